/**
 * A conversation fetched while a newer `conversation` frame arrives: the frame wins. A group's
 * first message from someone the app does not know makes it fetch the group; if the group is
 * muted from another device before that answer comes back, the older answer must not unmute it.
 */
import { describe, expect, it } from 'vitest';
import type { APIResponse, Route } from 'playwright-core';
import { eventually, newDevice, newUser, openToAll } from '../helpers/sdk.js';
import { newTab, row, serverAndBrowser, uname } from './helpers.js';
import { logInByKeyboard } from './keyboard.js';

describe('a conversation answer older than a frame', () => {
  const env = serverAndBrowser();

  it('keeps a mute that arrived while the group was being fetched', async () => {
    const ana = await newUser(env.server.url, uname('ana'));
    const bob = await newUser(env.server.url, uname('bob'));
    await openToAll(ana, bob);
    const tab = await newTab(env.browser, env.server.url);
    await logInByKeyboard(tab.page, ana.username);
    await tab.page.getByRole('heading', { name: 'Chats' }).waitFor();

    // The group reaches the app by its `conversation` frame (or a list refresh). Once nothing
    // else is in flight, the first message, from a sender the app does not know yet, makes it
    // fetch the group for the sender's name: always, whichever way the group arrived.
    const group = await bob.http.createGroup({ name: 'Race club', members: [ana.username] });
    await row(tab.page, 'Race club').waitFor();
    await tab.page.waitForLoadState('networkidle');

    // Answer that fetch from the server at once, but hand the answer to the app only after the
    // mute has reached it.
    const held: Array<{ route: Route; response: APIResponse }> = [];
    let asked = false;
    await tab.page.route(/\/v1\/conversations\/[^/?]+$/, async (route) => {
      if (route.request().method() !== 'GET' || asked) return route.continue();
      asked = true;
      held.push({ route, response: await route.fetch() });
    });
    await bob.http.send(group.id, { clientId: 'b1', text: 'First!' });
    await eventually(() => held.length === 1, 'the app fetches the new group');

    const anaPhone = await newDevice(env.server.url, ana.username);
    await anaPhone.http.mute(group.id, null);
    await row(tab.page, 'Race club').getByTestId('muted').waitFor();
    // The held answer (from before the mute) arrives and is ignored. Wait for it from before
    // fulfilling: the response can be delivered before a later wait would start listening.
    const answered = tab.page.waitForResponse(/\/v1\/conversations\/[^/?]+$/);
    await held[0]!.route.fulfill({ response: held[0]!.response });
    await answered;
    // Give the app a moment to apply the answer (the old code unmuted the row here).
    await tab.page.waitForTimeout(500);
    expect(await row(tab.page, 'Race club').getByTestId('muted').count()).toBe(1);
    expect(tab.errors).toEqual([]);
  });
});
