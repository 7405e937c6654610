/**
 * The web app's own alerts while it is open but not looked at: the unread count in the title
 * and on the app badge (muted chats left out, and mentions where those are muted too), and a system notification through the service
 * worker's registration when the tab is hidden. The page's `navigator.setAppBadge` and
 * `showNotification` are wrapped by an init script to record their calls, and the tab's
 * visibility is emulated (a headless tab is always visible).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { collapseKey } from '@parley/server';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { eventually, newDevice, newUser, openToAll } from '../helpers/sdk.js';
import {
  SERVER_ARGS,
  launch,
  newTab,
  openChat,
  openToAllInPage,
  row,
  screenshot,
  signUp,
  uname,
} from './helpers.js';
import type { Tab } from './helpers.js';

interface Recorded {
  badges: number[];
  shown: { title: string; body: string; tag: string }[];
}

/** Record badge and notification calls, and let the test hide the tab. */
function recorder(): void {
  const w = window as unknown as Recorded & { hideTab(hidden: boolean): void };
  w.badges = [];
  w.shown = [];
  const nav = navigator as Navigator & {
    setAppBadge(n?: number): Promise<void>;
    clearAppBadge(): Promise<void>;
  };
  nav.setAppBadge = (n?: number) => {
    w.badges.push(n ?? 0);
    return Promise.resolve();
  };
  nav.clearAppBadge = () => {
    w.badges.push(0);
    return Promise.resolve();
  };
  const show = ServiceWorkerRegistration.prototype.showNotification;
  ServiceWorkerRegistration.prototype.showNotification = function (title, options) {
    w.shown.push({ title, body: options?.body ?? '', tag: options?.tag ?? '' });
    return show.call(this, title, options);
  };
  let hidden = false;
  Object.defineProperty(document, 'visibilityState', { get: () => (hidden ? 'hidden' : 'visible') });
  Object.defineProperty(document, 'hidden', { get: () => hidden });
  w.hideTab = (h: boolean) => {
    hidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
  };
}

const recorded = (page: Page): Promise<Recorded> =>
  page.evaluate(() => {
    const w = window as unknown as Recorded;
    return { badges: [...w.badges], shown: [...w.shown] };
  });

describe('alerts in the open web app', () => {
  let server: ServerHandle;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer({ args: SERVER_ARGS });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });

  /** Bob in the browser (notifications allowed), and two people who write to him. */
  async function setUp(): Promise<{
    tab: Tab;
    bobName: string;
    ana: Awaited<ReturnType<typeof newUser>>;
    cy: Awaited<ReturnType<typeof newUser>>;
  }> {
    const ana = await newUser(server.url, uname('ana'));
    const cy = await newUser(server.url, uname('cy'));
    await openToAll(ana, cy);
    const bobName = uname('bob');
    const tab = await newTab(browser, 'about:blank', { permissions: ['notifications'] });
    await tab.context.addInitScript(recorder);
    await tab.page.goto(server.url);
    await signUp(tab.page, bobName, 'Bob Stone');
    await openToAllInPage(tab.page);
    await tab.page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    return { tab, bobName, ana, cy };
  }

  it('counts unread messages in the title and on the badge, leaving muted chats out', async () => {
    const { tab, bobName, ana, cy } = await setUp();
    const bob = await newDevice(server.url, bobName, 'phone');
    const fromAna = await ana.http.direct({ userId: bob.id });
    const fromCy = await cy.http.direct({ userId: bob.id });
    await bob.http.mute(fromCy.id, null);
    await ana.http.send(fromAna.id, { clientId: 'a1', text: 'one' });
    await ana.http.send(fromAna.id, { clientId: 'a2', text: 'two' });
    for (let i = 1; i <= 3; i++) await cy.http.send(fromCy.id, { clientId: `c${i}`, text: `muted ${i}` });
    // The muted chat's messages are shown in its row, not counted.
    await eventually(
      async () => (await tab.page.getByTestId('unread-badge').allTextContents()).sort().join() === '2,3',
      'both rows show their unread counts',
    );
    await eventually(async () => (await tab.page.title()) === '(2) Parley', 'the title counts two');
    let badges: number[] = [];
    await eventually(
      async () => (badges = (await recorded(tab.page)).badges).at(-1) === 2,
      () => `the badge is 2: ${JSON.stringify(badges)}`,
    );
    expect((await recorded(tab.page)).badges).not.toContain(5);
    expect(tab.errors.filter((e) => !e.includes('Push API in incognito'))).toEqual([]);
    await tab.context.close();
  });

  it('shows a notification per conversation while the tab is hidden, none for a muted chat', async () => {
    const { tab, bobName, ana, cy } = await setUp();
    const bob = await newDevice(server.url, bobName, 'phone');
    const fromAna = await ana.http.direct({ userId: bob.id });
    const fromCy = await cy.http.direct({ userId: bob.id });
    await bob.http.mute(fromCy.id, null);
    // The app knows both chats (and the mute) before the tab is hidden.
    await ana.http.send(fromAna.id, { clientId: 'a0', text: 'hello' });
    await cy.http.send(fromCy.id, { clientId: 'c0', text: 'hello' });
    await eventually(async () => (await tab.page.getByTestId('unread-badge').count()) === 2, 'two rows');
    expect((await recorded(tab.page)).shown).toEqual([]);

    await tab.page.evaluate(() => (window as unknown as { hideTab(h: boolean): void }).hideTab(true));
    await cy.http.send(fromCy.id, { clientId: 'c1', text: 'muted chat' });
    await ana.http.send(fromAna.id, { clientId: 'a1', text: 'are you there?' });
    await ana.http.send(fromAna.id, { clientId: 'a2', text: 'hello?' });
    let shown: Recorded['shown'] = [];
    await eventually(
      async () => (shown = (await recorded(tab.page)).shown).length === 2,
      () => `two notifications: ${JSON.stringify(shown)}`,
    );
    const tag = collapseKey(fromAna.id);
    expect((await recorded(tab.page)).shown).toEqual([
      { title: ana.username, body: '2 new messages\nare you there?', tag },
      { title: ana.username, body: '3 new messages\nhello?', tag },
    ]);
    // One notification for the conversation: the second replaced the first.
    const open = await tab.page.evaluate(async () => {
      const reg = await navigator.serviceWorker.ready;
      return (await reg.getNotifications()).map((n) => ({ title: n.title, tag: n.tag }));
    });
    expect(open).toEqual([{ title: ana.username, tag }]);
    expect(tab.errors.filter((e) => !e.includes('Push API in incognito'))).toEqual([]);
    await tab.context.close();
  });

  it('mutes @mentions too from the info drawer: not counted, no notification', async () => {
    const { tab, bobName, ana } = await setUp();
    const bob = await newDevice(server.url, bobName, 'phone');
    const plain = await ana.http.createGroup({ name: 'Plain mute', members: [bobName] });
    const all = await ana.http.createGroup({ name: 'Mentions muted', members: [bobName] });
    await ana.http.send(all.id, { clientId: 'x0', text: 'welcome' });
    await bob.http.mute(plain.id, null);

    // Mute the second group from its info drawer, mentions included (off until ticked).
    await openChat(tab.page, 'Mentions muted');
    await tab.page.getByRole('button', { name: 'Conversation info' }).click();
    const toggle = tab.page.getByTestId('mute').getByLabel('Also mute @mentions');
    expect(await toggle.isChecked()).toBe(false);
    await toggle.check();
    await tab.page.getByTestId('mute').getByRole('button', { name: 'Always' }).click();
    await tab.page.getByTestId('mute-state').waitFor();
    expect(await toggle.isChecked()).toBe(true);
    const conv = (await bob.http.conversations()).conversations.find((c) => c.id === all.id);
    expect(conv).toMatchObject({ mutedUntil: null, mutedMentions: true });
    await screenshot(tab.page, 'alerts-mute-mentions');
    await eventually(
      async () => (await bob.http.conversations()).conversations.find((c) => c.id === all.id)?.unread === 0,
      'the opened group is read',
    );
    // Back to the list with no chat open, so nothing more gets read.
    await tab.page.goto(server.url);
    await row(tab.page, 'Plain mute').waitFor();

    const mention = `@${bobName} look`;
    for (const g of [plain, all]) {
      await ana.http.send(g.id, { clientId: `${g.id}-1`, text: mention });
      await ana.http.send(g.id, { clientId: `${g.id}-2`, text: 'chatter' });
    }
    await eventually(
      async () => (await row(tab.page, 'Plain mute').getByTestId('unread-badge').textContent()) === '2',
      'the plainly muted row shows its unread count',
    );
    await eventually(
      async () => (await row(tab.page, 'Mentions muted').getByTestId('unread-badge').textContent()) === '2',
      'the row muted with mentions shows its unread count',
    );
    // Only the mention in the plainly muted group counts.
    await eventually(async () => (await tab.page.title()) === '(1) Parley', 'the title counts one');
    let badges: number[] = [];
    await eventually(
      async () => (badges = (await recorded(tab.page)).badges).at(-1) === 1,
      () => `the badge is 1: ${JSON.stringify(badges)}`,
    );
    expect(badges.filter((n) => n > 1)).toEqual([]);

    // While hidden: a mention in the group muted with mentions alerts nothing, the other one does.
    await tab.page.evaluate(() => (window as unknown as { hideTab(h: boolean): void }).hideTab(true));
    await ana.http.send(all.id, { clientId: 'x3', text: `@${bobName} still there?` });
    await ana.http.send(plain.id, { clientId: 'p3', text: `@${bobName} still there?` });
    let shown: Recorded['shown'] = [];
    await eventually(
      async () => (shown = (await recorded(tab.page)).shown).length >= 1,
      () => `a notification: ${JSON.stringify(shown)}`,
    );
    expect((await recorded(tab.page)).shown.map((n) => [n.title, n.tag])).toEqual([
      ['Plain mute', collapseKey(plain.id)],
    ]);
    expect(await tab.page.title()).toBe('(2) Parley');
    expect(tab.errors.filter((e) => !e.includes('Push API in incognito'))).toEqual([]);
    await tab.context.close();
  });
});
