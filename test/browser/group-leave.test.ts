/**
 * A group someone was removed from stays in their list, read-only, with a line that says so,
 * until they delete it.
 */
import { describe, expect, it } from 'vitest';
import { eventually, newUser, openToAll } from '../helpers/sdk.js';
import { bubble, newTab, row, screenshot, serverAndBrowser, uname } from './helpers.js';
import { logInByKeyboard } from './keyboard.js';

describe('leaving a group in the web app', () => {
  const env = serverAndBrowser();

  it('keeps the group read-only for a removed member until they delete it', async () => {
    const ana = await newUser(env.server.url, uname('ana'));
    await openToAll(ana);
    const bob = await newUser(env.server.url, uname('bob'));
    await openToAll(bob);
    const carol = await newUser(env.server.url, uname('carol'));
    await openToAll(carol);
    await ana.http.updateMe({ displayName: 'Ana García' });
    await carol.http.updateMe({ displayName: 'Carol Chen' });
    const g = await ana.http.createGroup({ name: 'Weekend trip', members: [bob.username, carol.username] });
    await ana.http.send(g.id, { clientId: 'a1', text: 'Who brings the tent?' });

    const a = await newTab(env.browser, env.server.url);
    const c = await newTab(env.browser, env.server.url);
    await logInByKeyboard(a.page, ana.username);
    await logInByKeyboard(c.page, carol.username);

    await row(a.page, 'Weekend trip').click();
    await a.page.getByRole('button', { name: 'Conversation info' }).click();
    const carolRow = a.page.locator(`[data-testid="member"][data-username="${carol.username}"]`);
    await carolRow.waitFor();

    await carolRow.getByRole('button', { name: 'Remove Carol Chen' }).click();
    await a.page.getByTestId('confirm').getByRole('button', { name: 'Remove', exact: true }).click();
    await eventually(async () => (await a.page.getByTestId('member').count()) === 2, 'two members left');

    // Carol keeps the group, read-only, with the history up to the removal.
    await ana.http.send(g.id, { clientId: 'a2', text: 'Carol cannot read this' });
    await row(c.page, 'Weekend trip').click();
    const bar = c.page.getByTestId('readonly-bar');
    await bar.waitFor();
    expect(await bar.textContent()).toContain('Ana García removed you');
    await bubble(c.page, 'Who brings the tent?').waitFor();
    await c.page.getByTestId('system-line').waitFor();
    expect(await c.page.getByTestId('system-line').textContent()).toBe('Ana García removed you');
    expect(await c.page.getByTestId('composer').count()).toBe(0);
    expect(await c.page.getByTestId('chat-status').textContent()).toBe('You are no longer a member');
    await screenshot(c.page, 'removed-from-group');

    // The same after a reload; never the message sent after the removal.
    await c.page.reload();
    await c.page.getByTestId('readonly-bar').waitFor();
    await bubble(c.page, 'Who brings the tent?').waitFor();
    expect(await bubble(c.page, 'Carol cannot read this').count()).toBe(0);

    // Delete chat asks, then removes it from the list.
    await c.page.getByTestId('readonly-bar').getByRole('button', { name: 'Delete chat' }).click();
    await c.page.getByTestId('confirm').getByRole('button', { name: 'Delete chat' }).click();
    await eventually(async () => (await row(c.page, 'Weekend trip').count()) === 0, 'deleted from the list');
    expect((await carol.http.conversations()).conversations.map((x) => x.id)).not.toContain(g.id);
    for (const t of [a, c]) expect(t.errors).toEqual([]);
  });
});
