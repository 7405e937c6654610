/**
 * Two people in two browsers: sign up, start a 1:1, exchange messages; ticks go from
 * delivered to read, typing shows, and the presence dot goes out when one closes.
 */
import { describe, expect, it } from 'vitest';
import { eventually, newDevice, newUser, openToAll } from '../helpers/sdk.js';
import {
  bubble,
  logIn,
  newTab,
  openToAllInPage,
  row,
  screenshot,
  sendMessage,
  serverAndBrowser,
  signUp,
  startDirect,
  uname,
} from './helpers.js';

describe('1:1 chat between two browsers', () => {
  const env = serverAndBrowser();

  it('exchanges messages with ticks, typing and presence', async () => {
    const alice = uname('alice');
    const bob = uname('bob');
    const a = await newTab(env.browser, env.server.url);
    await a.page.getByRole('heading', { name: 'Log in to Parley' }).waitFor();
    await screenshot(a.page, 'login');
    await signUp(a.page, alice, 'Alice Liddell');
    await openToAllInPage(a.page);
    const b = await newTab(env.browser, env.server.url);
    await signUp(b.page, bob, 'Bob Builder');
    await openToAllInPage(b.page);
    // Alice is no contact of Bob's: she sees his presence once he shows it to everyone.
    const bobApi = await newDevice(env.server.url, bob, 'api');
    await bobApi.http.setPrivacy({ online: 'everyone', lastSeen: 'everyone' });

    // The device got a name from the user agent.
    await a.page.getByRole('button', { name: 'Settings and devices' }).click();
    await a.page.getByTestId('device').first().waitFor();
    expect(await a.page.getByTestId('device').first().textContent()).toContain('Chrome on Linux');
    await a.page.getByRole('button', { name: 'Back' }).click();

    await startDirect(a.page, bob);
    expect(await a.page.getByTestId('chat-name').textContent()).toBe('Bob Builder');
    await sendMessage(a.page, 'Hello Bob! The docs are at https://example.com/docs.');

    // Bob is on his chat list: the message arrives there, unread, and counts as delivered.
    await row(b.page, 'Alice Liddell').waitFor();
    await eventually(
      async () => (await row(b.page, 'Alice Liddell').getByTestId('unread-badge').textContent()) === '1',
      'unread badge 1 for Bob',
    );
    const first = bubble(a.page, 'Hello Bob!');
    await eventually(async () => (await first.getAttribute('data-status')) === 'delivered', 'delivered tick');
    await screenshot(b.page, 'chat-list-unread');

    // Bob opens it: Alice's ticks turn to read, the badge goes.
    await row(b.page, 'Alice Liddell').click();
    await bubble(b.page, 'Hello Bob!').waitFor();
    await eventually(async () => (await first.getAttribute('data-status')) === 'read', 'read tick');
    expect(await row(b.page, 'Alice Liddell').getByTestId('unread-badge').count()).toBe(0);

    // The address is a safe link.
    const link = bubble(b.page, 'Hello Bob!').getByRole('link');
    expect(await link.getAttribute('href')).toBe('https://example.com/docs');
    expect(await link.getAttribute('rel')).toBe('noopener noreferrer');
    expect(await link.getAttribute('target')).toBe('_blank');

    // Typing shows in Alice's header; Bob's answer arrives.
    await b.page.getByTestId('composer').pressSequentially('Hi Al');
    await eventually(
      async () => (await a.page.getByTestId('chat-status').textContent()) === 'typing…',
      'typing indicator',
    );
    await b.page.getByTestId('composer').pressSequentially('ice, got it');
    await b.page.getByTestId('composer').press('Enter');
    await bubble(a.page, 'Hi Alice, got it').waitFor();
    // Shift+Enter adds a line; Enter sends.
    const composer = a.page.getByTestId('composer');
    await composer.pressSequentially('Great.');
    await composer.press('Shift+Enter');
    await composer.pressSequentially('Two lines.');
    expect(await composer.inputValue()).toBe('Great.\nTwo lines.');
    await composer.press('Enter');
    await bubble(b.page, 'Great.').waitFor();
    expect(
      await bubble(b.page, 'Great.')
        .locator('.text')
        .evaluate((el) => el.firstChild?.textContent),
    ).toBe('Great.\nTwo lines.');
    expect(await composer.inputValue()).toBe('');

    // Near the 99,999-character limit a counter shows; over it, sending is impossible.
    await composer.fill('x'.repeat(99_990));
    expect(await a.page.getByTestId('char-counter').textContent()).toBe('9 characters left');
    await composer.fill('x'.repeat(100_000));
    expect(await a.page.getByTestId('char-counter').textContent()).toBe('1 character over the limit');
    expect(await a.page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
    const count = await a.page.getByTestId('message').count();
    await composer.press('Enter');
    expect(await composer.inputValue()).toHaveLength(100_000);
    expect(await a.page.getByTestId('message').count()).toBe(count);
    await composer.fill('');
    expect(await a.page.getByTestId('char-counter').count()).toBe(0);

    // Presence: Bob is online in Alice's header and list.
    await eventually(
      async () => (await a.page.getByTestId('chat-status').textContent()) === 'online',
      'online',
    );
    expect(await row(a.page, 'Bob Builder').locator('.dot').count()).toBe(1);
    await screenshot(a.page, 'chat');
    await screenshot(b.page, 'chat-other-side');
    await a.page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(a.page, 'chat-dark');
    await a.page.emulateMedia({ colorScheme: 'light' });

    // The filter box narrows the list.
    const search = a.page.getByRole('searchbox', { name: 'Search chats' });
    await search.fill('nobody-matches-this');
    await a.page.getByText('No results').waitFor();
    await search.fill('bob');
    await row(a.page, 'Bob Builder').waitFor();
    await search.fill('');

    // Bob closes his browser: Alice sees him go offline.
    await b.context.close();
    await eventually(
      async () => ((await a.page.getByTestId('chat-status').textContent()) ?? '').startsWith('last seen'),
      'last seen after Bob left',
      20_000,
    );
    expect(await row(a.page, 'Bob Builder').locator('.dot').count()).toBe(0);
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });
  it('keeps a chat that arrives while the list is still loading', async () => {
    const [ana, bob, carol] = await Promise.all([
      newUser(env.server.url, uname('ana')),
      newUser(env.server.url, uname('bob')),
      newUser(env.server.url, uname('carol')),
    ]);
    await openToAll(ana, bob, carol);
    const old = await carol.http.direct({ userId: bob.id });
    await carol.http.send(old.id, { clientId: 'old', text: 'an older chat' });
    const tab = await newTab(env.browser, env.server.url);
    // The app's first list read reaches the server at once but its answer comes late: a
    // conversation created meanwhile arrives live first, and the stale list must not drop it.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await tab.page.route(/\/v1\/conversations\?/, async (route) => {
      const response = await route.fetch();
      await released;
      await route.fulfill({ response });
    });
    await logIn(tab.page, bob.username);
    // Connected: what is sent from now on comes live.
    await tab.page.getByTestId('connection-banner').waitFor({ state: 'detached' });
    const c = await ana.http.direct({ userId: bob.id });
    await ana.http.send(c.id, { clientId: 'early', text: 'sent before the list came' });
    await row(tab.page, ana.username).getByText('sent before the list came').waitFor();
    release();
    // Carol's chat comes only with the list: once it shows, the list's answer is applied.
    await row(tab.page, carol.username).waitFor();
    expect(await row(tab.page, ana.username).count()).toBe(1);
    await row(tab.page, ana.username).click();
    await bubble(tab.page, 'sent before the list came').waitFor();
    expect(tab.errors).toEqual([]);
  });
});
