/**
 * Message markup in the app: messages typed with WhatsApp-style markers show as bold,
 * italic, struck, code, code blocks, quotes and lists (real elements, markers gone), links
 * in them stay links, one to three emoji alone show large, and the chat list previews the
 * text without markers.
 */
import { describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { newUser, openToAll } from '../helpers/sdk.js';
import {
  newTab,
  openToAllInPage,
  row,
  screenshot,
  serverAndBrowser,
  signUp,
  startDirect,
  uname,
} from './helpers.js';

/** A message typed into the composer, a line at a time, and sent with Enter. */
async function typeMessage(page: Page, text: string): Promise<void> {
  await page.getByTestId('composer').click();
  for (const [i, line] of text.split('\n').entries()) {
    if (i > 0) await page.keyboard.press('Shift+Enter');
    await page.keyboard.type(line);
  }
  await page.keyboard.press('Enter');
}

/** A message's text as tags, without the room kept for the time. */
function outline(message: Locator): Promise<string> {
  return message.locator('.text').evaluate((root) => {
    const walk = (node: Node): string => {
      if (node.nodeType === Node.TEXT_NODE) return node.textContent ?? '';
      if (!(node instanceof Element) || node.classList.contains('meta-spacer')) return '';
      const inner = Array.from(node.childNodes).map(walk).join('');
      const tag = node.tagName.toLowerCase();
      const attrs =
        tag === 'a'
          ? ` ${node.getAttribute('href') ?? ''}`
          : tag === 'li' && node.hasAttribute('value')
            ? ` ${node.getAttribute('value') ?? ''}`
            : '';
      return `<${tag}${attrs}>${inner}</${tag}>`;
    };
    return Array.from(root.childNodes).map(walk).join('');
  });
}

const MESSAGES: Array<[string, string]> = [
  [
    '*bold* _italic_ ~strike~ `code` 2*3*4 see https://example.com/a_b_c',
    '<strong>bold</strong> <em>italic</em> <s>strike</s> <code>code</code> 2*3*4 see <a https://example.com/a_b_c>https://example.com/a_b_c</a>',
  ],
  [
    '_*both* and https://example.com/x_y_',
    '<em><strong>both</strong> and <a https://example.com/x_y>https://example.com/x_y</a></em>',
  ],
  ['* not bold * and a*b*c', '<ul><li>not bold * and a*b*c</li></ul>'],
  [
    '```\nconst s = "<b>*x*</b>";\n_not italic_\n```',
    '<pre><code>const s = "<b>*x*</b>";\n_not italic_</code></pre>',
  ],
  ['> quoted *bold*\n> second\nreply', '<blockquote>quoted <strong>bold</strong>\nsecond</blockquote>reply'],
  [
    'list:\n- one\n- _two_\n1. first\n2. second',
    'list:<ul><li>one</li><li><em>two</em></li></ul><ol><li 1>first</li><li 2>second</li></ol>',
  ],
  // The blank line typed before a block shows.
  ['blank line:\n\n> quote', 'blank line:\n<br></br><blockquote>quote</blockquote>'],
];

describe('message markup', () => {
  const env = serverAndBrowser();

  it('shows formatted messages as elements, without markers', async () => {
    const me = uname('fay');
    const t = await newTab(env.browser, env.server.url);
    const page = t.page;
    await signUp(page, me, 'Fay Format');
    await openToAllInPage(page);
    const gus = await newUser(env.server.url, uname('gus'));
    await openToAll(gus);
    await gus.http.updateMe({ displayName: 'Gus Plain' });
    await startDirect(page, gus.username);

    for (const [i, [text, expected]] of MESSAGES.entries()) {
      await typeMessage(page, text);
      const message = page.locator(`[data-testid="message"][data-seq="${i + 1}"]`);
      await message.waitFor();
      expect(await outline(message)).toBe(expected);
    }
    // A code block is monospace; a quote is set off.
    const pre = page.locator('.text pre').first();
    expect(await pre.evaluate((el) => getComputedStyle(el).fontFamily)).toMatch(/mono/i);
    await screenshot(page, 'format-messages');

    // Emoji alone show large, with text they do not.
    await typeMessage(page, '😀👍🏽');
    await typeMessage(page, '😀 ok');
    const big = page.locator(`[data-testid="message"][data-seq="${MESSAGES.length + 1}"] .text`);
    const small = page.locator(`[data-testid="message"][data-seq="${MESSAGES.length + 2}"] .text`);
    await small.waitFor();
    expect(await big.getAttribute('class')).toMatch(/\bemoji-only\b/);
    expect(await small.getAttribute('class')).not.toMatch(/\bemoji-only\b/);
    const size = (l: Locator) => l.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    expect(await size(big)).toBeGreaterThan(2 * (await size(small)));

    // The chat list shows the last message without markers.
    const id = (await gus.http.direct({ username: me })).id;
    await gus.http.send(id, { clientId: 'last', text: '*Hello* _there_,\n> quoted ~old~' });
    await expect
      .poll(() => row(page, 'Gus Plain').locator('.conv-preview').textContent())
      .toBe('Hello there, quoted old');
    await screenshot(page, 'format-preview');
    expect(t.errors).toEqual([]);
  });
});
