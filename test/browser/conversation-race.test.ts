/**
 * A conversation fetched while a newer `conversation` frame arrives: the frame wins. A group
 * that appears by its first message is fetched; if it is muted from another device before that
 * answer comes back, the older answer must not unmute it in the list.
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

    // Answer the app's first fetch of one conversation from the server at once, but hand the
    // answer to the app only after the mute has reached it.
    const held: Array<{ route: Route; response: APIResponse }> = [];
    let asked = false;
    await tab.page.route(/\/v1\/conversations\/[^/?]+$/, async (route) => {
      if (route.request().method() !== 'GET' || asked) return route.continue();
      asked = true;
      held.push({ route, response: await route.fetch() });
    });
    const group = await bob.http.createGroup({ name: 'Race club', members: [ana.username] });
    await bob.http.send(group.id, { clientId: 'b1', text: 'First!' });
    await eventually(() => held.length === 1, 'the app fetches the new group');

    const anaPhone = await newDevice(env.server.url, ana.username);
    await anaPhone.http.mute(group.id, null);
    await row(tab.page, 'Race club').getByTestId('muted').waitFor();
    await held[0]!.route.fulfill({ response: held[0]!.response });
    // The held answer (from before the mute) arrives and is ignored.
    await tab.page.waitForResponse(/\/v1\/conversations\/[^/?]+$/);
    // Give the app a moment to apply the answer (the old code unmuted the row here).
    await tab.page.waitForTimeout(500);
    expect(await row(tab.page, 'Race club').getByTestId('muted').count()).toBe(1);
    expect(tab.errors).toEqual([]);
  });
});
