/**
 * Accessibility: axe-core checks every screen of the web app against WCAG 2.1 A and AA, on a
 * phone (390×844, touch) and a desktop (1280×800), each in the light and the dark theme. A
 * serious or critical violation anywhere fails; all of them are listed at once.
 */
import axe from 'axe-core';
import type { RunOptions } from 'axe-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';
import { PASSWORD, SERVER_ARGS, bubble, launch, newTab, openChat, row, uname } from './helpers.js';

const RUN: RunOptions = {
  runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  resultTypes: ['violations'],
};

const PHONE: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 2,
};
const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 } };

const VARIANTS: { name: string; phone: boolean; options: BrowserContextOptions }[] = [
  { name: 'phone, light', phone: true, options: { ...PHONE, colorScheme: 'light' } },
  { name: 'phone, dark', phone: true, options: { ...PHONE, colorScheme: 'dark' } },
  { name: 'desktop, light', phone: false, options: { ...DESKTOP, colorScheme: 'light' } },
  { name: 'desktop, dark', phone: false, options: { ...DESKTOP, colorScheme: 'dark' } },
];

/** Serious and critical violations on the page as it is now, one line per rule and screen. */
async function audit(page: Page, screen: string): Promise<string[]> {
  // axe-core goes into the page once: the app changes screens without loading a page, and
  // injecting it for every check would take most of the test's time.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axe.source);
  const { violations } = await page.evaluate(
    (options) => (window as unknown as { axe: typeof axe }).axe.run(document, options),
    RUN,
  );
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${screen}: ${v.id} (${v.impact}) at ${v.nodes
          .map(
            (n) =>
              `${n.target.join(' ')}${n.failureSummary ? ` [${n.failureSummary.replace(/\s+/g, ' ')}]` : ''}`,
          )
          .join('; ')}`,
    );
}

describe('accessibility (axe-core, WCAG 2.1 AA)', () => {
  let server: ServerHandle;
  let browser: Browser;
  let zoe: TestUser;
  let ben: TestUser;

  beforeAll(async () => {
    // Web Push on plain http, so that the notification prompt and switch show.
    server = await startServer({ args: [...SERVER_ARGS, '--web-push-allow-http', 'true'] });
    browser = await launch();
    [zoe, ben] = await Promise.all([newUser(server.url, uname('zoe')), newUser(server.url, uname('ben'))]);
    await openToAll(zoe, ben);
    await Promise.all([
      zoe.http.updateMe({ displayName: 'Zoe Zhang' }),
      ben.http.updateMe({ displayName: 'Ben Baker' }),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });

  for (const variant of VARIANTS) {
    it(`has no serious or critical violations on any screen (${variant.name})`, async () => {
      const found: string[] = [];
      const me = await newUser(server.url, uname('amy'));
      await openToAll(me);
      await me.http.updateMe({ displayName: 'Amy Adams' });
      const t = await newTab(browser, server.url, variant.options);
      const page = t.page;
      const check = async (screen: string) => found.push(...(await audit(page, screen)));
      const toList = async () => {
        // On a phone the list is its own screen; on a desktop it stays beside the chat.
        if (variant.phone) await page.getByRole('button', { name: 'Back to chats' }).click();
      };

      // Logged out: log in (with a wrong password's error), then the sign-up form.
      await page.getByRole('heading', { name: 'Log in to Parley' }).waitFor();
      await check('login');
      await page.getByLabel('Username').fill(me.username);
      await page.getByLabel('Password').fill('not the password');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('alert').waitFor();
      await check('login error');
      await page.getByRole('button', { name: 'Create an account' }).click();
      await page.getByRole('heading', { name: 'Create your account' }).waitFor();
      await check('sign-up');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByLabel('Username').fill(me.username);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Chats' }).waitFor();
      await page.getByText('No chats yet.').waitFor();
      await page.getByTestId('connection-banner').waitFor({ state: 'detached' });
      await page.getByTestId('push-prompt').waitFor();
      await check('chat list, empty');

      // Contacts (Zoe) and a request (Ben); a 1:1 and a muted group, with messages both ways.
      await me.http.requestContact({ username: zoe.username });
      await zoe.http.acceptContact(me.id);
      await ben.http.requestContact({ username: me.username });
      const direct = await me.http.direct({ userId: zoe.id });
      await me.http.send(direct.id, {
        clientId: `${me.username}-d1`,
        text: 'Hi Zoe! Notes: https://example.com/notes',
      });
      await zoe.http.send(direct.id, { clientId: `${me.username}-d2`, text: 'Hello Amy 👋' });
      const group = await me.http.createGroup({
        name: 'Book club',
        members: [zoe.username, ben.username],
      });
      const welcome = await me.http.send(group.id, {
        clientId: `${me.username}-g1`,
        text: 'Welcome to the book club!',
      });
      await zoe.http.read(group.id, 1);
      const thanks = await ben.http.send(group.id, {
        clientId: `${me.username}-g2`,
        text: `Thanks for having me @${me.username}, says @${zoe.username}`,
      });
      // A pin (the bar over the history), a saved message and a mention (their views).
      await me.http.act(group.id, {
        clientId: `${me.username}-pin`,
        action: { kind: 'pin', target: welcome.seq },
      });
      await me.http.act(group.id, {
        clientId: `${me.username}-save`,
        action: { kind: 'save', target: thanks.seq },
      });
      await me.http.mute(group.id, null);
      await row(page, 'Zoe Zhang').getByTestId('unread-badge').waitFor();
      await row(page, 'Book club').getByTestId('muted').waitFor();
      await check('chat list');

      await openChat(page, 'Zoe Zhang');
      await bubble(page, 'Hello Amy').waitFor();
      await check('1:1 chat');
      await page.getByRole('button', { name: 'Conversation info' }).click();
      await page.getByRole('button', { name: 'Block Zoe Zhang' }).waitFor();
      await check('1:1 info');
      await page.getByRole('button', { name: 'Block Zoe Zhang' }).click();
      await page.getByTestId('confirm').waitFor();
      await check('confirm dialog');
      await page.getByTestId('confirm').getByRole('button', { name: 'Cancel' }).click();
      await page.getByTestId('confirm').waitFor({ state: 'detached' });
      await page.getByRole('button', { name: 'Close info' }).click();
      await page.getByTestId('composer').waitFor();
      await toList();

      await openChat(page, 'Book club');
      await bubble(page, 'Thanks for having me').getByTestId('mention').nth(1).waitFor();
      await page.getByTestId('pin-bar').waitFor();
      await check('group chat');
      await page.getByTestId('pins-open').click();
      await page.getByTestId('pinned-item').waitFor();
      await check('pinned messages');
      await page.getByRole('button', { name: 'Close', exact: true }).click();
      await bubble(page, 'Welcome to the book club!')
        .getByRole('button', { name: /Show who read it/ })
        .click();
      await page.getByTestId('receipts').waitFor();
      await check('message info');
      await page.getByRole('button', { name: 'Close', exact: true }).click();
      await page.getByRole('button', { name: 'Conversation info' }).click();
      await page.getByTestId('members').waitFor();
      await check('group info');
      await page.getByRole('button', { name: 'Close info' }).click();
      await page.getByTestId('composer').waitFor();
      await toList();

      // Message search: results with highlights, then within one chat with its filters.
      const searchbox = page.getByRole('searchbox', { name: 'Search chats and messages' });
      const searched = page.locator('[data-testid="search-results"][aria-busy="false"]');
      await searchbox.click();
      await page.keyboard.type('book');
      await searched.getByTestId('search-hit').first().waitFor();
      await check('search results');
      await page.getByRole('list', { name: 'Chats found' }).getByText('Book club').click();
      await page.getByRole('button', { name: 'Search in this chat' }).click();
      await page.getByTestId('search-chat-chip').waitFor();
      await page.getByLabel('Sender', { exact: true }).waitFor();
      await page.getByLabel('Date', { exact: true }).selectOption('custom');
      await page.getByLabel('Start date', { exact: true }).waitFor();
      await searched.getByTestId('search-hit').first().waitFor();
      await check('search in a chat');
      await searchbox.focus();
      await page.keyboard.press('Escape');
      await page.keyboard.press('Escape');
      await page.getByRole('navigation', { name: 'Conversations' }).waitFor();

      // The panels.
      await page.getByRole('button', { name: 'New chat' }).click();
      await page.getByTestId('panel-new').getByText('Zoe Zhang').waitFor();
      await check('new chat');
      await page.getByRole('button', { name: 'Back' }).click();
      await page.getByRole('button', { name: 'New group' }).click();
      await page.getByTestId('panel-group').getByText('Zoe Zhang').waitFor();
      await page.getByTestId('panel-group').getByRole('checkbox').first().check();
      await check('new group');
      await page.getByRole('button', { name: 'Back' }).click();
      await page.getByRole('button', { name: /^Contacts/ }).click();
      await page.getByTestId('incoming').waitFor();
      await page.getByTestId('contacts').waitFor();
      await check('contacts');
      await page.getByRole('button', { name: 'Back' }).click();
      await page.getByRole('button', { name: 'Settings and devices' }).click();
      await page.getByTestId('device').first().waitFor();
      await page.getByTestId('notification-settings').getByRole('checkbox').first().waitFor();
      await check('settings');
      await page.getByRole('button', { name: 'Back' }).click();
      await page.getByRole('button', { name: 'Saved messages' }).click();
      await page.getByTestId('saved-panel').getByTestId('listed-item').waitFor();
      await check('saved messages');
      await page.getByRole('button', { name: 'Back' }).click();
      await page.getByRole('button', { name: 'Mentions' }).click();
      await page.getByTestId('mentions-panel').getByTestId('listed-item').waitFor();
      await check('mentions');
      await page.getByRole('button', { name: 'Back' }).click();

      // Offline: the banner, and (unless the open socket took it first) a message waiting to be sent.
      await t.context.setOffline(true);
      await page.getByTestId('connection-banner').waitFor();
      await check('chat list, offline');
      await openChat(page, 'Zoe Zhang');
      await page.getByTestId('composer').fill('Sent when back online');
      // The Send button: on a touch screen Enter makes a new line.
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await bubble(page, 'Sent when back online').waitFor();
      await check('chat, offline');
      await t.context.setOffline(false);
      await page.getByTestId('connection-banner').waitFor({ state: 'detached' });

      // Blocked: the chat takes no messages, and says so.
      await page.getByRole('button', { name: 'Conversation info' }).click();
      await page.getByRole('button', { name: 'Block Zoe Zhang' }).click();
      await page.getByTestId('confirm').getByRole('button', { name: 'Block' }).click();
      await page.getByRole('button', { name: 'Unblock Zoe Zhang' }).waitFor();
      await page.getByRole('button', { name: 'Close info' }).click();
      await page.getByTestId('readonly-bar').waitFor();
      await check('1:1 chat, blocked');

      expect(found).toEqual([]);
      expect(t.errors).toEqual([]);
      await t.context.close();
    });
  }
});
