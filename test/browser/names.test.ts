/**
 * Names stay current: a group's list preview keeps its sender's name after a reload, and a
 * user's new display name reaches an open app live (list, headers, group sender labels).
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { eventually, newUser, openToAll } from '../helpers/sdk.js';
import { bubble, newTab, row, serverAndBrowser, uname } from './helpers.js';
import { logInByKeyboard } from './keyboard.js';

describe('names in the web app', () => {
  const env = serverAndBrowser();

  const preview = async (page: Page, name: string) =>
    (await row(page, name).locator('.conv-preview').textContent()) ?? '';

  it("keeps a group preview's sender after a reload", async () => {
    const ana = await newUser(env.server.url, uname('ana'));
    await openToAll(ana);
    const carol = await newUser(env.server.url, uname('carol'));
    await openToAll(carol);
    await carol.http.updateMe({ displayName: 'Carol Chen' });
    const g = await ana.http.createGroup({ name: 'Burst', members: [carol.username] });
    await carol.http.send(g.id, { clientId: 'c40', text: 'Burst message 40 from Carol' });

    const a = await newTab(env.browser, env.server.url);
    await logInByKeyboard(a.page, ana.username);
    await row(a.page, 'Burst').waitFor();
    await eventually(
      async () => (await preview(a.page, 'Burst')) === 'Carol: Burst message 40 from Carol',
      'the preview with its sender',
    );
    await a.page.reload();
    await row(a.page, 'Burst').waitFor();
    expect(await preview(a.page, 'Burst')).toBe('Carol: Burst message 40 from Carol');
    expect(a.errors).toEqual([]);
  });

  it('shows a new display name live in the list, the header and group sender labels', async () => {
    const ana = await newUser(env.server.url, uname('ana'));
    await openToAll(ana);
    const carol = await newUser(env.server.url, uname('carol'));
    await openToAll(carol);
    await carol.http.updateMe({ displayName: 'Carol Chen' });
    const g = await ana.http.createGroup({ name: 'Trip', members: [carol.username] });
    await carol.http.send(g.id, { clientId: 'g1', text: 'Tent is packed' });
    const d = await carol.http.direct({ username: ana.username });
    await carol.http.send(d.id, { clientId: 'd1', text: 'Hi Ana' });

    const a = await newTab(env.browser, env.server.url);
    await logInByKeyboard(a.page, ana.username);
    await row(a.page, 'Trip').click();
    const label = bubble(a.page, 'Tent is packed').locator('.sender');
    await label.getByText('Carol Chen').waitFor();

    await carol.http.updateMe({ displayName: 'Caroline Xu' });
    await label.getByText('Caroline Xu').waitFor();
    await row(a.page, 'Caroline Xu').waitFor();
    expect(await row(a.page, 'Carol Chen').count()).toBe(0);
    expect(await preview(a.page, 'Trip')).toBe('Caroline: Tent is packed');

    await row(a.page, 'Caroline Xu').click();
    await eventually(
      async () => (await a.page.getByTestId('chat-name').textContent()) === 'Caroline Xu',
      'header renamed',
    );
    expect(a.errors).toEqual([]);
  });

  it('shows the username beside display names that look alike', async () => {
    const ana = await newUser(env.server.url, uname('ana'));
    await openToAll(ana);
    const bob = await newUser(env.server.url, uname('bob'));
    await openToAll(bob);
    await bob.http.updateMe({ displayName: 'Bob Smith' });
    // Another user takes a name that reads the same: an accent and a double space.
    const fake = await newUser(env.server.url, uname('bob'));
    await openToAll(fake);
    await fake.http.updateMe({ displayName: 'Böb  Smith' });
    const g = await ana.http.createGroup({ name: 'Lookalikes', members: [bob.username, fake.username] });
    await bob.http.send(g.id, { clientId: 'b1', text: 'I am the real Bob' });
    await fake.http.send(g.id, { clientId: 'f1', text: 'No, I am' });
    const d = await fake.http.direct({ username: ana.username });
    await fake.http.send(d.id, { clientId: 'f2', text: 'Send me the code' });

    const a = await newTab(env.browser, env.server.url);
    await logInByKeyboard(a.page, ana.username);
    await row(a.page, 'Lookalikes').click();
    await bubble(a.page, 'No, I am').waitFor();
    const senders = async () => await a.page.locator('.sender').allTextContents();
    await eventually(async () => {
      const s = await senders();
      return s.includes(`Bob Smith (@${bob.username})`) && s.includes(`Böb  Smith (@${fake.username})`);
    }, 'both senders named with their usernames');
    // The 1:1 with the look-alike carries the username in the list too.
    await eventually(
      async () => ((await row(a.page, 'Böb  Smith').textContent()) ?? '').includes(`(@${fake.username})`),
      'the list row with the username',
    );
    expect(a.errors).toEqual([]);
  });
});
