/**
 * "New group" by keyboard: the group name field takes focus when the panel opens and keeps it
 * no longer, so member usernames typed into their own field land there (they once went into
 * the group name, one re-render per keystroke pulling focus back).
 */
import { describe, expect, it } from 'vitest';
import { newUser, openToAll } from '../helpers/sdk.js';
import { newTab, serverAndBrowser, uname } from './helpers.js';
import { logInByKeyboard, typeInto } from './keyboard.js';

describe('new group', () => {
  const env = serverAndBrowser();

  it('types member usernames into the member field, not the group name', async () => {
    const ana = await newUser(env.server.url, uname('ana'));
    await openToAll(ana);
    const bob = await newUser(env.server.url, uname('bob'));
    await openToAll(bob);
    await bob.http.updateMe({ displayName: 'Bob Builder' });
    const carol = await newUser(env.server.url, uname('carol'));
    await openToAll(carol);
    await carol.http.updateMe({ displayName: 'Carol Keys' });

    const t = await newTab(env.browser, env.server.url);
    const page = t.page;
    await logInByKeyboard(page, ana.username);
    await page.getByRole('button', { name: 'New group' }).click();
    const groupName = page.getByLabel('Group name');
    const member = page.getByLabel(/Add members by username/);
    // The name field has focus as the panel opens: type straight away.
    await expect.poll(() => groupName.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.type('Weekend trip');

    await typeInto(member, bob.username);
    expect(await member.inputValue()).toBe(bob.username);
    await page.keyboard.press('Enter');
    const chips = page.getByRole('list', { name: 'Members to add' });
    await chips.getByText('Bob Builder').waitFor();
    // Focus stays in the member field for the next name.
    await page.keyboard.type(carol.username);
    await page.keyboard.press('Enter');
    await chips.getByText('Carol Keys').waitFor();

    expect(await groupName.inputValue()).toBe('Weekend trip');
    expect(await member.inputValue()).toBe('');
    await page.getByRole('button', { name: 'Create group' }).click();
    await expect.poll(() => page.getByTestId('chat-name').textContent()).toBe('Weekend trip');
    expect(t.errors).toEqual([]);
    await t.context.close();
  });
});
