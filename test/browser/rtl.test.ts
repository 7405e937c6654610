/**
 * Right-to-left messages: the time and ticks sit where a Hebrew or Arabic text's last line
 * ends (bottom left), in the room kept for them, never over the words (they once sat bottom
 * right, over the start of the last line). Left-to-right text keeps them bottom right.
 * Formatted text (bold, italic, quotes, lists) keeps to the same rule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Locator } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';
import { SERVER_ARGS, launch, newTab, revealMessage, row, screenshot, uname } from './helpers.js';
import { PHONE, logInByKeyboard } from './keyboard.js';

const HEBREW = 'שלום, מה שלומך היום? אני מקווה שהכל בסדר אצלך ואצל המשפחה';
const ARABIC = 'مرحبا، كيف حالك اليوم؟ أتمنى أن يكون كل شيء على ما يرام';
const ENGLISH = 'Hello, how are you today? I hope all is well with you and the family';

const TEXTS = [
  ['Hebrew, short', 'שלום'],
  ['Hebrew', HEBREW],
  ['Hebrew, long', `${HEBREW} ${HEBREW} ${HEBREW}`],
  ['Arabic, short', 'مرحبا'],
  ['Arabic', ARABIC],
  ['Arabic, long', `${ARABIC} ${ARABIC} ${ARABIC}`],
  ['Hebrew, formatted', `*שלום* _${HEBREW}_ ~${HEBREW}~`],
  ['Arabic, quote and list', `> ${ARABIC}\n- مرحبا\n- *${ARABIC}*`],
  ['English', ENGLISH],
  ['English, long', `${ENGLISH} ${ENGLISH} ${ENGLISH}`],
] as const;

interface Layout {
  overlaps: number;
  /** Where the time sits in the bubble. */
  side: 'left' | 'right';
}

/** How the words of a bubble's text and its time and ticks lie. */
function layoutOf(message: Locator): Promise<Layout> {
  return message.evaluate((msg) => {
    const meta = msg.querySelector('.meta')?.getBoundingClientRect();
    const body = msg.querySelector('.bubble')?.getBoundingClientRect();
    const textEl = msg.querySelector('.text');
    if (meta === undefined || body === undefined || textEl === null) throw new Error('no bubble');
    let overlaps = 0;
    const walker = document.createTreeWalker(textEl, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (node.parentElement?.closest('.meta-spacer') !== null) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of Array.from(range.getClientRects())) {
        const x = Math.min(r.right, meta.right) - Math.max(r.left, meta.left);
        const y = Math.min(r.bottom, meta.bottom) - Math.max(r.top, meta.top);
        if (x > 0.5 && y > 0.5) overlaps++;
      }
    }
    const side = meta.left - body.left < body.right - meta.right ? 'left' : 'right';
    return { overlaps, side };
  });
}

describe('right-to-left messages', () => {
  let server: ServerHandle;
  let browser: Browser;
  let ana: TestUser;

  beforeAll(async () => {
    server = await startServer({ args: SERVER_ARGS });
    browser = await launch();
    ana = await newUser(server.url, uname('ana'));
    await openToAll(ana);
    const dan = await newUser(server.url, uname('dan'));
    await openToAll(dan);
    await dan.http.updateMe({ displayName: 'Dan Cohen' });
    const id = (await ana.http.direct({ username: dan.username })).id;
    // Each text both ways: received (no ticks) as seq 2i+1, then sent (with ticks) as 2i+2.
    for (const [i, [, text]] of TEXTS.entries()) {
      await dan.http.send(id, { clientId: `in-${i}`, text });
      await ana.http.send(id, { clientId: `out-${i}`, text });
    }
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
    it(`keeps the time off the words on a ${device}`, async () => {
      const t = await newTab(browser, server.url, options);
      const page = t.page;
      await logInByKeyboard(page, ana.username);
      await row(page, 'Dan Cohen').click();
      for (const [i, [what]] of TEXTS.entries()) {
        for (const [dir, seq] of [
          ['received', 2 * i + 1],
          ['sent', 2 * i + 2],
        ] as const) {
          const message = await revealMessage(page, seq);
          const got = await layoutOf(message);
          const rtl = !what.startsWith('English');
          expect({ what, dir, ...got }).toEqual({
            what,
            dir,
            overlaps: 0,
            side: rtl ? 'left' : 'right',
          });
        }
      }
      await screenshot(page, `rtl-${device}`);
      await t.context.close();
    });
  }
});
