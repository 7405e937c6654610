/**
 * Long messages fold after 25 lines, with a "Read more" button that unfolds them (and "Show
 * less" that folds them again), formatted ones too; shorter ones show whole, with no button.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Locator } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';
import { SERVER_ARGS, launch, newTab, revealMessage, row, screenshot, uname } from './helpers.js';
import { PHONE, logInByKeyboard } from './keyboard.js';

const LINE_PX = 19.5;
const LINES = Array.from({ length: 60 }, (_, i) => `Line ${i + 1}`).join('\n');
const PARAGRAPH = `${'All work and no play makes a long message. '.repeat(80)}The end.`;
const FORMATTED = [
  ...Array.from({ length: 30 }, (_, i) => `- *Item* _${i + 1}_`),
  '```',
  ...Array.from({ length: 20 }, (_, i) => `code line ${i + 1}`),
  '```',
].join('\n');
const SHORT = Array.from({ length: 20 }, (_, i) => `Short line ${i + 1}`).join('\n');

/** Heights of a bubble's text: what shows, and all of it. */
function heights(message: Locator): Promise<{ shown: number; full: number }> {
  return message.locator('.text').evaluate((el) => ({ shown: el.clientHeight, full: el.scrollHeight }));
}

describe('long messages', () => {
  let server: ServerHandle;
  let browser: Browser;
  let ana: TestUser;

  beforeAll(async () => {
    server = await startServer({ args: SERVER_ARGS });
    browser = await launch();
    ana = await newUser(server.url, uname('ana'));
    await openToAll(ana);
    const leo = await newUser(server.url, uname('leo'));
    await openToAll(leo);
    await leo.http.updateMe({ displayName: 'Leo Long' });
    const id = (await leo.http.direct({ username: ana.username })).id;
    await leo.http.send(id, { clientId: 'lines', text: LINES });
    await leo.http.send(id, { clientId: 'paragraph', text: PARAGRAPH });
    await leo.http.send(id, { clientId: 'short', text: SHORT });
    await leo.http.send(id, { clientId: 'formatted', text: FORMATTED });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });

  for (const [device, options] of [
    ['desktop', {}],
    ['phone', PHONE],
  ] as const) {
    it(`folds them after 25 lines on a ${device}`, async () => {
      const t = await newTab(browser, server.url, options);
      const page = t.page;
      await logInByKeyboard(page, ana.username);
      await row(page, 'Leo Long').click();
      const lines = page.locator('[data-testid="message"][data-seq="1"]');
      const short = page.locator('[data-testid="message"][data-seq="3"]');
      await short.waitFor();

      // The short one shows whole, with no button.
      expect(await short.getByRole('button', { name: /Read more|Show less/ }).count()).toBe(0);
      const s = await heights(short);
      expect(s.full).toBe(s.shown);

      // The formatted one, the paragraph, then the lines (checked once more below).
      for (const seq of [4, 2, 1]) {
        const m = await revealMessage(page, seq);
        const more = m.getByRole('button', { name: 'Read more' });
        await more.waitFor();
        expect(await more.getAttribute('aria-expanded')).toBe('false');
        // The button and the time share a line without touching.
        const button = await more.boundingBox();
        const meta = await m.locator('.meta').boundingBox();
        expect(button !== null && meta !== null && button.x + button.width <= meta.x).toBe(true);
        const folded = await heights(m);
        expect(folded.shown).toBeLessThanOrEqual(25 * LINE_PX + 1);
        expect(folded.full).toBeGreaterThan(folded.shown);

        await more.click();
        const less = m.getByRole('button', { name: 'Show less' });
        await less.waitFor();
        expect(await less.getAttribute('aria-expanded')).toBe('true');
        const whole = await heights(m);
        expect(whole.shown).toBe(whole.full);
        expect(whole.shown).toBeGreaterThan(25 * LINE_PX);

        // Keyboard: the same button folds it again.
        await less.focus();
        await page.keyboard.press('Enter');
        await m.getByRole('button', { name: 'Read more' }).waitFor();
        expect((await heights(m)).shown).toBeLessThanOrEqual(25 * LINE_PX + 1);
      }
      await lastLineCutOff(lines);
      await screenshot(page, `long-message-${device}`);
      expect(t.errors).toEqual([]);
      await t.context.close();
    });
  }
});

/** The last of a folded message's 60 lines is below what shows. */
async function lastLineCutOff(message: Locator): Promise<void> {
  const cut = await message.locator('.text').evaluate((el) => {
    const box = el.getBoundingClientRect();
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const node = walker.nextNode();
    if (node === null) return null;
    const range = document.createRange();
    const text = node.textContent ?? '';
    const at = text.indexOf('Line 60');
    range.setStart(node, at);
    range.setEnd(node, at + 'Line 60'.length);
    return range.getBoundingClientRect().top >= box.bottom;
  });
  expect(cut).toBe(true);
}
