/**
 * History: a conversation of 10,000 messages opens at the latest, keeps only a few rows in
 * the DOM, loads older pages while scrolling up without moving what is on screen, reaches
 * the first message, and offers "jump to latest" with the count of new messages. A message
 * sent while a chat's first page is still on its way stays on screen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { eventually, newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';
import {
  SERVER_ARGS,
  bubble,
  launch,
  logIn,
  newTab,
  openChat,
  row,
  screenshot,
  sendMessage,
  signUp,
  startDirect,
  uname,
  openToAllInPage,
} from './helpers.js';

const TOTAL = 10_000;

/** Send `count` messages over HTTP, many at a time (the server commits them in batches). */
async function seed(from: TestUser, conversationId: string, count: number): Promise<void> {
  let next = 1;
  const worker = async () => {
    while (next <= count) {
      const n = next++;
      // Every 7th message is long, so rows have different heights.
      const text = n % 7 === 0 ? `message ${n} ${'lorem ipsum dolor sit amet '.repeat(12)}` : `message ${n}`;
      await from.http.send(conversationId, { clientId: `seed-${n}`, text });
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
}

describe('long history', () => {
  let server: ServerHandle;
  let browser: Browser;

  beforeAll(async () => {
    // Seeding 10,000 messages from one account goes far past the per-user send rate.
    server = await startServer({
      args: [...SERVER_ARGS, '--send-rate-per-sec', '100000', '--send-burst', '100000'],
    });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });

  it('opens 10,000 messages at the end and scrolls back to the first', async () => {
    const vera = await newUser(server.url, uname('vera'));
    await openToAll(vera);
    const walt = await newUser(server.url, uname('walt'));
    await openToAll(walt);
    await vera.http.updateMe({ displayName: 'Vera Long' });
    await walt.http.updateMe({ displayName: 'Walt Writer' });
    const conv = await walt.http.direct({ username: vera.username });
    await seed(walt, conv.id, TOTAL);

    const v = await newTab(browser, server.url);
    await logIn(v.page, vera.username);
    await openChat(v.page, 'Walt Writer');
    await bubble(v.page, `message ${TOTAL}`).waitFor();
    const list = v.page.getByRole('log');
    // Virtualised: a screenful of rows, not thousands.
    expect(await v.page.getByTestId('message').count()).toBeLessThan(150);
    await screenshot(v.page, 'history-latest');

    // Scroll up page by page. Each older page is held back until the screen was measured:
    // when it arrives above, the message at the top of the screen stays exactly in place.
    const held: Array<() => Promise<void>> = [];
    await v.page.route(/\/v1\/conversations\/[^/]+\/messages\?.*before=/, (route) => {
      held.push(() => route.continue());
    });
    let pages = 0;
    while ((await v.page.getByTestId('history-start').count()) === 0) {
      await list.evaluate((el) => {
        el.scrollTop = 0;
      });
      const start = v.page.getByTestId('history-start');
      await eventually(async () => held.length > 0 || (await start.count()) > 0, 'an older page requested');
      if (held.length === 0) break;
      const top = await list.evaluate(async (el) => {
        // Two frames: the scroll is handled and the rows at the top are rendered.
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        const box = el.getBoundingClientRect();
        for (const m of Array.from(el.querySelectorAll<HTMLElement>('[data-testid="message"]'))) {
          const r = m.querySelector('.bubble')?.getBoundingClientRect();
          if (r !== undefined && r.top >= box.top) return { seq: Number(m.dataset.seq), y: r.top };
        }
        return null;
      });
      expect(top).not.toBeNull();
      const seq = top?.seq ?? 0;
      await held.shift()?.();
      await v.page.waitForFunction(
        (s) =>
          document.querySelector<HTMLElement>('.vl-row [data-testid="message"]')?.dataset.seq !== String(s),
        seq,
      );
      await v.page.waitForFunction((s) => {
        const rows = Array.from(document.querySelectorAll<HTMLElement>('[data-testid="message"]'));
        return Number(rows[0]?.dataset.seq) < s || document.querySelector('[data-testid="history-start"]');
      }, seq);
      const after = await v.page
        .locator(`[data-testid="message"][data-seq="${seq}"] .bubble`)
        .evaluate((el) => el.getBoundingClientRect().top);
      expect(Math.abs(after - (top?.y ?? 0))).toBeLessThan(2);
      pages++;
      expect(pages).toBeLessThan(TOTAL / 100);
    }
    await v.page.unroute(/\/v1\/conversations\/[^/]+\/messages\?.*before=/);
    await bubble(v.page, 'message 1').first().waitFor();
    expect(await v.page.locator('[data-testid="message"][data-seq="1"]').count()).toBe(1);
    expect(await v.page.getByTestId('message').count()).toBeLessThan(150);
    await screenshot(v.page, 'history-first');

    // New messages while scrolled up: the jump button counts them and brings me down.
    for (const n of [1, 2, 3]) await walt.http.send(conv.id, { clientId: `late-${n}`, text: `late ${n}` });
    const jump = v.page.getByTestId('jump-latest');
    await eventually(async () => ((await jump.textContent()) ?? '').includes('3'), 'jump button with 3 new');
    await jump.click();
    await bubble(v.page, 'late 3').waitFor();
    await eventually(async () => (await jump.count()) === 0, 'jump button gone at the bottom');
    expect(v.errors).toEqual([]);
  });

  it('keeps the messages sent and received while the first page loads', async () => {
    const [vera, walt] = [uname('vera'), uname('walt')];
    const w = await newTab(browser, server.url);
    await signUp(w.page, walt, 'Walt Slow');
    await openToAllInPage(w.page);
    const v = await newTab(browser, server.url);
    await signUp(v.page, vera, 'Vera Slow');
    await openToAllInPage(v.page);
    // Every history page reaches Vera's app 2 s late; it was read when it was asked for, so
    // before the message below was stored.
    await v.page.route('**/v1/conversations/*/messages*', async (route) => {
      if (route.request().method() !== 'GET') return route.continue();
      const response = await route.fetch();
      await new Promise((r) => setTimeout(r, 2000));
      await route.fulfill({ response });
    });
    await startDirect(v.page, walt);
    await sendMessage(v.page, 'Sent before the page came');
    const mine = bubble(v.page, 'Sent before the page came');
    await eventually(async () => (await mine.getAttribute('data-status')) === 'delivered', 'delivered tick');
    // Walt answers; Vera sees both, once each, in order.
    await row(w.page, 'Vera Slow').click();
    await sendMessage(w.page, 'And an answer');
    await bubble(v.page, 'And an answer').waitFor();
    const texts = await v.page.locator('[data-testid="message"] .text').allTextContents();
    expect(texts.map((t) => t.replace(/\d{1,2}:\d{2}.*$/, '').trim())).toEqual([
      'Sent before the page came',
      'And an answer',
    ]);
    expect(v.errors).toEqual([]);
  });
});
