/**
 * Removing a group member and blocking a contact ask first, in the app's own dialog: Cancel
 * changes nothing, confirming does it.
 */
import { describe, expect, it } from 'vitest';
import { eventually, newUser, openToAll } from '../helpers/sdk.js';
import { newTab, row, screenshot, serverAndBrowser, uname } from './helpers.js';
import { logInByKeyboard } from './keyboard.js';

describe('confirmations', () => {
  const env = serverAndBrowser();

  it('removes a member only once confirmed', async () => {
    const ana = await newUser(env.server.url, uname('ana'));
    await openToAll(ana);
    const bob = await newUser(env.server.url, uname('bob'));
    await openToAll(bob);
    const carol = await newUser(env.server.url, uname('carol'));
    await openToAll(carol);
    await carol.http.updateMe({ displayName: 'Carol Chen' });
    const g = await ana.http.createGroup({ name: 'Weekend trip', members: [bob.username, carol.username] });

    const a = await newTab(env.browser, env.server.url);
    await logInByKeyboard(a.page, ana.username);
    await row(a.page, 'Weekend trip').click();
    await a.page.getByRole('button', { name: 'Conversation info' }).click();
    const carolRow = a.page.locator(`[data-testid="member"][data-username="${carol.username}"]`);
    await carolRow.waitFor();

    await carolRow.getByRole('button', { name: 'Remove Carol Chen' }).click();
    const confirm = a.page.getByTestId('confirm');
    await confirm.waitFor();
    expect(await confirm.textContent()).toContain('Carol Chen will no longer be in "Weekend trip"');
    await screenshot(a.page, 'remove-member-confirm');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    expect(await a.page.getByTestId('member').count()).toBe(3);
    expect((await ana.http.members(g.id)).members.map((m) => m.userId)).toContain(carol.id);

    await carolRow.getByRole('button', { name: 'Remove Carol Chen' }).click();
    await a.page.getByTestId('confirm').getByRole('button', { name: 'Remove', exact: true }).click();
    await eventually(async () => (await a.page.getByTestId('member').count()) === 2, 'two members left');
    expect((await ana.http.members(g.id)).members.map((m) => m.userId)).not.toContain(carol.id);
    expect(a.errors).toEqual([]);
  });

  it('blocks a contact only once confirmed', async () => {
    const ana = await newUser(env.server.url, uname('ana'));
    await openToAll(ana);
    const carol = await newUser(env.server.url, uname('carol'));
    await openToAll(carol);
    await carol.http.updateMe({ displayName: 'Carol Chen' });
    await ana.http.requestContact({ username: carol.username });
    await carol.http.acceptContact(ana.id);

    const a = await newTab(env.browser, env.server.url);
    await logInByKeyboard(a.page, ana.username);
    await a.page.getByRole('button', { name: 'Contacts' }).click();
    const contact = a.page.getByTestId('contacts').getByRole('listitem').filter({ hasText: 'Carol Chen' });
    await contact.waitFor();

    await contact.getByRole('button', { name: 'Block' }).click();
    const confirm = a.page.getByTestId('confirm');
    await confirm.waitFor();
    await a.page.getByRole('dialog', { name: 'Block Carol Chen?' }).waitFor();
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    expect((await ana.http.contacts()).blocked).toEqual([]);

    await contact.getByRole('button', { name: 'Block' }).click();
    await a.page.getByTestId('confirm').getByRole('button', { name: 'Block', exact: true }).click();
    await a.page.getByTestId('blocked').getByText('Carol Chen').waitFor();
    expect((await ana.http.contacts()).blocked.map((u) => u.id)).toEqual([carol.id]);
    expect(a.errors).toEqual([]);
  });
});
