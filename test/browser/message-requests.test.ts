/**
 * Message requests in the web app: a stranger's chat is not in the main list but behind a
 * "Message requests" entry, and its chat has a bar to accept, block or delete it; replying
 * accepts it too. Driven with the keyboard and with clicks.
 */
import { describe, expect, it } from 'vitest';
import { eventually, newUser } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';
import { bubble, newTab, row, screenshot, serverAndBrowser, uname } from './helpers.js';
import { logInByKeyboard } from './keyboard.js';

describe('message requests in the web app', () => {
  const env = serverAndBrowser();

  async function stranger(prefix: string, name: string, to: TestUser, text: string): Promise<TestUser> {
    const u = await newUser(env.server.url, uname(prefix));
    await u.http.updateMe({ displayName: name });
    const d = await u.http.direct({ userId: to.id });
    await u.http.send(d.id, { clientId: `${prefix}-1`, text });
    return u;
  }

  it('keeps requests apart and accepts, blocks, deletes or answers them', async () => {
    const ana = await newUser(env.server.url, uname('ana'));
    const friend = await newUser(env.server.url, uname('friend'));
    await friend.http.requestContact({ userId: ana.id });
    await ana.http.acceptContact(friend.id);
    await friend.http.updateMe({ displayName: 'Fran Friend' });
    const fd = await friend.http.direct({ userId: ana.id });
    await friend.http.send(fd.id, { clientId: 'f-1', text: 'Hi, it is Fran' });
    const bob = await stranger('bob', 'Bob Stranger', ana, 'Hello from Bob');
    const carol = await stranger('carol', 'Carol Spam', ana, 'Buy my stuff');
    await stranger('dave', 'Dave Maybe', ana, 'Remember me?');
    await stranger('erin', 'Erin Asks', ana, 'Can I ask you something?');

    const a = await newTab(env.browser, env.server.url);
    await logInByKeyboard(a.page, ana.username);
    await row(a.page, 'Fran Friend').waitFor();
    // Strangers are not in the main list: one entry says how many wait.
    const entry = a.page.getByTestId('requests-entry');
    await entry.getByText('Message requests').waitFor();
    expect(await entry.locator('.badge').textContent()).toBe('4');
    expect(await row(a.page, 'Bob Stranger').count()).toBe(0);
    await screenshot(a.page, 'requests-entry');

    // Keyboard: open the requests, then Bob's request.
    await entry.focus();
    await a.page.keyboard.press('Enter');
    await a.page.getByRole('heading', { name: 'Message requests' }).waitFor();
    expect(await row(a.page, 'Fran Friend').count()).toBe(0);
    await row(a.page, 'Bob Stranger').focus();
    await a.page.keyboard.press('Enter');
    await bubble(a.page, 'Hello from Bob').waitFor();
    const bar = a.page.getByTestId('request-bar');
    await bar.getByText('wants to message you').waitFor();
    await screenshot(a.page, 'request-bar');
    await bar.getByRole('button', { name: 'Accept' }).focus();
    await a.page.keyboard.press('Enter');
    await bar.waitFor({ state: 'detached' });
    await a.page.getByTestId('composer').waitFor();
    await eventually(
      async () => (await bob.http.conversations()).conversations.length === 1,
      'bob still has his chat',
    );
    expect((await ana.http.conversations()).conversations.find((c) => c.peer?.id === bob.id)?.request).toBe(
      undefined,
    );

    // Clicks: block Carol.
    await row(a.page, 'Carol Spam').click();
    await a.page.getByTestId('request-bar').getByRole('button', { name: 'Block' }).click();
    await a.page.getByTestId('confirm').getByRole('button', { name: 'Block', exact: true }).click();
    await row(a.page, 'Carol Spam').waitFor({ state: 'detached' });
    expect((await ana.http.contacts()).blocked.map((u) => u.id)).toEqual([carol.id]);

    // Delete Dave's.
    await row(a.page, 'Dave Maybe').click();
    await a.page.getByTestId('request-bar').getByRole('button', { name: 'Delete' }).click();
    await a.page.getByTestId('confirm').getByRole('button', { name: 'Delete', exact: true }).click();
    await row(a.page, 'Dave Maybe').waitFor({ state: 'detached' });

    // Answer Erin: replying accepts.
    await row(a.page, 'Erin Asks').click();
    await a.page.getByTestId('request-bar').waitFor();
    const composer = a.page.getByTestId('composer');
    await composer.focus();
    await a.page.keyboard.type('Sure, ask away');
    await a.page.keyboard.press('Enter');
    await a.page.getByTestId('request-bar').waitFor({ state: 'detached' });

    // No request is left: the entry goes, and the accepted chats are in the main list.
    await entry.waitFor({ state: 'detached' });
    await a.page.getByRole('heading', { name: 'Message requests' }).waitFor({ state: 'detached' });
    for (const name of ['Fran Friend', 'Bob Stranger', 'Erin Asks']) await row(a.page, name).waitFor();
    expect(await row(a.page, 'Dave Maybe').count()).toBe(0);

    // A later request waits behind the entry again; the chat list stays in view.
    await stranger('gus', 'Gus Later', ana, 'One more thing');
    await entry.waitFor();
    expect(await entry.locator('.badge').textContent()).toBe('1');
    expect(await a.page.getByRole('heading', { name: 'Message requests' }).count()).toBe(0);
    expect(await row(a.page, 'Gus Later').count()).toBe(0);
    await row(a.page, 'Fran Friend').waitFor();
    expect(a.errors).toEqual([]);
  });
});
