/**
 * Settings → Privacy by keyboard: each of the four privacy settings is a labelled choice that
 * saves at once, and hiding last seen takes it away from a contact.
 */
import { describe, expect, it } from 'vitest';
import { eventually, newUser } from '../helpers/sdk.js';
import { newTab, serverAndBrowser, uname } from './helpers.js';
import { logInByKeyboard } from './keyboard.js';

describe('privacy settings in the web app', () => {
  const env = serverAndBrowser();

  it('changes who sees my last seen and online state by keyboard', async () => {
    const ana = await newUser(env.server.url, uname('ana'));
    const bob = await newUser(env.server.url, uname('bob'));
    await bob.http.requestContact({ userId: ana.id });
    await ana.http.acceptContact(bob.id);

    const a = await newTab(env.browser, env.server.url);
    await logInByKeyboard(a.page, ana.username);
    await a.page.getByRole('button', { name: 'Settings and devices' }).focus();
    await a.page.keyboard.press('Enter');
    await a.page.getByRole('heading', { name: 'Privacy' }).waitFor();
    const lastSeen = a.page.getByLabel('Last seen', { exact: true });
    await eventually(async () => (await lastSeen.inputValue()) === 'contacts', 'the stored setting');
    // Bob, a contact, sees Ana's last seen by default.
    await eventually(
      async () => (await bob.http.presence([ana.id])).presence[0]?.lastActiveAt != null,
      "bob sees ana's last seen",
    );

    await lastSeen.focus();
    await a.page.keyboard.press('ArrowDown'); // My contacts → Nobody
    await a.page.getByRole('status').getByText('Saved.').waitFor();
    expect((await ana.http.getPrivacy()).lastSeen).toBe('nobody');
    expect((await bob.http.presence([ana.id])).presence[0]?.lastActiveAt).toBeNull();

    // Tab goes on to the next choice.
    await a.page.keyboard.press('Tab');
    expect(await a.page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('online');
    await a.page.keyboard.press('ArrowUp'); // My contacts → Everyone
    await eventually(async () => (await ana.http.getPrivacy()).online === 'everyone', 'online: everyone');

    // The other two settings are there too, with their defaults.
    expect(await a.page.getByLabel('Messages from people not in my contacts').inputValue()).toBe('requests');
    expect(await a.page.getByLabel('Who can add me to groups').inputValue()).toBe('contacts');

    // A reload (the panel stays open) shows what is stored.
    await a.page.reload();
    await a.page.getByRole('heading', { name: 'Privacy' }).waitFor();
    await eventually(
      async () => (await a.page.getByLabel('Last seen', { exact: true }).inputValue()) === 'nobody',
      'kept',
    );
    expect(await a.page.getByLabel('Online', { exact: true }).inputValue()).toBe('everyone');
    expect(a.errors).toEqual([]);
  });
});
