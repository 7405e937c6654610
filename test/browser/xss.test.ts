/**
 * Nothing a user writes is ever interpreted as HTML or script: an XSS corpus in message
 * text (plain and inside formatting markup), display names and group names is shown as text, runs nothing (window.__xss stays
 * unset) and adds no elements to the page. The CSP would stop inline script anyway; this
 * checks the app itself never creates such elements.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { newUser, openToAll } from '../helpers/sdk.js';
import {
  bubble,
  newTab,
  openChat,
  openToAllInPage,
  revealMessage,
  row,
  screenshot,
  serverAndBrowser,
  signUp,
  uname,
} from './helpers.js';

const CORPUS = [
  '<img src=x onerror="window.__xss=1">',
  '<script>window.__xss=2</script>',
  '"><svg onload=window.__xss=3>',
  'javascript:window.__xss=4',
  '<a href="javascript:window.__xss=5">click me</a>',
  '<iframe srcdoc="<script>parent.__xss=6</script>"></iframe>',
  'https://example.com/"><img src=x onerror=window.__xss=7>',
  '<style>body{display:none}</style><b onmouseover=window.__xss=8>hover</b>',
  '{{constructor.constructor("window.__xss=9")()}}',
  '<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=10>',
];
/** Hostile text inside markup, and a part of the text it shows (markers gone). */
const FORMATTED: Array<[string, string]> = [
  ['*<img src=x onerror="window.__xss=13">*', '<img src=x onerror="window.__xss=13">'],
  ['_<script>window.__xss=14</script>_', '<script>window.__xss=14</script>'],
  [
    '```\n<script>window.__xss=15</script>\n<img src=x onerror=window.__xss=15>\n```',
    '<script>window.__xss=15</script>',
  ],
  ['`<svg onload=window.__xss=16>`', '<svg onload=window.__xss=16>'],
  [
    '> <iframe srcdoc="<script>parent.__xss=17</script>"></iframe>\n- <b onmouseover=window.__xss=18>x</b>\n1. <a href="javascript:window.__xss=19">y</a>',
    '<iframe srcdoc="<script>parent.__xss=17</script>"></iframe>',
  ],
  ['*https://example.com/"><img src=x onerror=window.__xss=20>*', 'onerror=window.__xss=20>'],
  ['~javascript:window.__xss=21~ _<style>body{display:none}</style>_', 'javascript:window.__xss=21'],
];
const EVIL_NAME = '<img src=x onerror=window.__xss=11>';
const EVIL_GROUP = '<svg/onload=window.__xss=12>';

/** Elements or attributes that user content must never produce inside the app. */
async function injected(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    const app = document.getElementById('app');
    for (const el of Array.from(app?.querySelectorAll('*') ?? [])) {
      const tag = el.tagName.toLowerCase();
      if (['script', 'iframe', 'img', 'style', 'math', 'object', 'embed', 'b', 'table'].includes(tag)) {
        found.push(`<${tag}>`);
      }
      for (const a of el.getAttributeNames()) if (a.startsWith('on')) found.push(`${tag}[${a}]`);
      const href = el.getAttribute('href');
      if (href !== null && !/^(https?:|#)/.test(href)) found.push(`${tag}[href=${href}]`);
    }
    return found;
  });
}

/** Each formatted message (sent after the corpus) shows its text, found by scrolling down. */
async function formattedShown(page: Page): Promise<void> {
  for (const [i, [, shown]] of FORMATTED.entries()) {
    const message = await revealMessage(page, CORPUS.length + i + 1);
    expect(await message.locator('.text').textContent()).toContain(shown);
  }
}

describe('XSS corpus', () => {
  const env = serverAndBrowser();

  it('shows hostile text as text and runs none of it', async () => {
    const me = uname('xena');
    const t = await newTab(env.browser, env.server.url);
    const page = t.page;
    await signUp(page, me, 'Xena Safe');
    await openToAllInPage(page);

    const mallory = await newUser(env.server.url, uname('mal'));
    await openToAll(mallory);
    await mallory.http.updateMe({ displayName: EVIL_NAME });
    const direct = await mallory.http.direct({ username: me });
    for (const [i, text] of CORPUS.entries()) {
      await mallory.http.send(direct.id, { clientId: `x-${i}`, text });
    }
    for (const [i, [text]] of FORMATTED.entries()) {
      await mallory.http.send(direct.id, { clientId: `f-${i}`, text });
    }
    const other = await newUser(env.server.url, uname('oscar'));
    await openToAll(other);
    const group = await mallory.http.createGroup({ name: EVIL_GROUP, members: [me, other.username] });
    for (const [i, text] of CORPUS.entries()) {
      await mallory.http.send(group.id, { clientId: `g-${i}`, text });
    }
    for (const [i, [text]] of FORMATTED.entries()) {
      await mallory.http.send(group.id, { clientId: `gf-${i}`, text });
    }
    await mallory.http.requestContact({ username: me });

    await row(page, EVIL_NAME).waitFor();
    await row(page, EVIL_GROUP).waitFor();
    await openChat(page, EVIL_NAME);
    for (const text of CORPUS) await bubble(page, text).waitFor();
    await formattedShown(page);
    expect(await page.getByTestId('chat-name').textContent()).toBe(EVIL_NAME);
    await screenshot(page, 'xss-direct');

    await openChat(page, EVIL_GROUP);
    for (const text of CORPUS) await bubble(page, text).waitFor();
    await formattedShown(page);
    expect(
      await bubble(page, CORPUS[0] ?? '')
        .locator('.sender')
        .textContent(),
    ).toBe(EVIL_NAME);
    await page.getByRole('button', { name: 'Conversation info' }).click();
    await page.locator(`[data-testid="member"]`).filter({ hasText: EVIL_NAME }).waitFor();
    await page.getByRole('button', { name: 'Close info' }).click();
    await page.getByRole('button', { name: /^Contacts/ }).click();
    await page.getByTestId('incoming').getByText(EVIL_NAME).waitFor();
    await screenshot(page, 'xss-contacts');

    // Hover everything once: no handler fires either.
    for (const b of await page.locator('.bubble').all()) await b.hover().catch(() => undefined);
    expect(await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss)).toBeUndefined();
    expect(await injected(page)).toEqual([]);
    // The one URL in the corpus became a link to exactly that address, nothing more.
    const links = await page.locator('.text a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    for (const href of links) expect(href).toMatch(/^https:\/\/example\.com\//);
    expect(t.errors).toEqual([]);
  });
});
