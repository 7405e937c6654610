/**
 * Message search in the web app: the sidebar field finds words whatever their case and
 * accents (and Chinese), highlights them, shows markup as text, follows edits; filters narrow
 * it to a chat, a sender and dates; a hit opens its chat at the message, far back included;
 * and on a phone the results take the list's screen and come back after the chat.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { eventually, newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';
import { logIn, newTab, serverAndBrowser, uname } from './helpers.js';
import { PHONE, typeInto } from './keyboard.js';

function field(page: Page) {
  return page.getByRole('searchbox', { name: 'Search chats and messages' });
}

function hits(page: Page) {
  return page.getByTestId('search-hit');
}

/** Wait for the search to answer (the results are not busy, and the debounce is over). */
async function settled(page: Page): Promise<void> {
  await page.locator('[data-testid="search-results"][aria-busy="false"]').waitFor();
}

/** Replace the words in the field, key by key, and wait for the answer. */
async function searchFor(page: Page, q: string): Promise<void> {
  const f = field(page);
  if ((await f.inputValue()) !== '') {
    await f.focus();
    await page.keyboard.press('Escape');
  }
  await typeInto(f, q);
  await settled(page);
}

async function user(url: string, name: string, displayName: string): Promise<TestUser> {
  const u = await newUser(url, uname(name));
  await openToAll(u);
  await u.http.updateMe({ displayName });
  return u;
}

let sent = 0;
async function send(u: TestUser, conversationId: string, text: string): Promise<number> {
  return (await u.http.send(conversationId, { clientId: `s-${++sent}`, text })).seq;
}

describe('message search', () => {
  const env = serverAndBrowser(['--send-rate-per-sec', '100000', '--send-burst', '100000']);

  it('finds words whatever their case and accents, and Chinese; shows markup as text; follows edits', async () => {
    const ann = await user(env.server.url, 'ann', 'Ann Search');
    const ben = await user(env.server.url, 'ben', 'Ben Search');
    const c = await ben.http.direct({ username: ann.username });
    const cafe = await send(ben, c.id, 'Meet at the Café tomorrow');
    await send(ben, c.id, '我们明天在北京见面');
    const xss = await send(ben, c.id, '<img src=x onerror="window.__hacked=1"> CAFÉ here');
    await send(ben, c.id, 'nothing to see');

    const t = await newTab(env.browser, env.server.url);
    await logIn(t.page, ann.username);

    // `/` focuses the field; the query has no accent and another case.
    await t.page.keyboard.press('/');
    expect(await field(t.page).evaluate((el) => el === document.activeElement)).toBe(true);
    await t.page.keyboard.type('cafe');
    await settled(t.page);
    expect(await hits(t.page).count()).toBe(2);
    const first = hits(t.page).and(t.page.locator(`[data-seq="${cafe}"]`));
    expect(await first.locator('mark').allTextContents()).toEqual(['Café']);
    expect(await first.textContent()).toContain('Ben Search');
    const bad = hits(t.page).and(t.page.locator(`[data-seq="${xss}"]`));
    expect(await bad.locator('mark').allTextContents()).toEqual(['CAFÉ']);
    expect(await bad.getByTestId('search-hit-text').textContent()).toContain('<img src=x onerror=');
    expect(await t.page.locator('[data-testid="search-results"] img').count()).toBe(0);
    expect(await t.page.evaluate(() => (window as { __hacked?: number }).__hacked)).toBeUndefined();

    // Chinese, matched inside a run of characters.
    await searchFor(t.page, '北京');
    expect(await hits(t.page).count()).toBe(1);
    expect(await hits(t.page).locator('mark').allTextContents()).toEqual(['北京']);

    // Nothing found.
    await searchFor(t.page, 'zebra');
    await t.page.getByText('No results').waitFor();

    // Ben edits the word away: the message is no longer found.
    await ben.http.act(c.id, {
      clientId: 'edit-1',
      action: { kind: 'edit', target: cafe, text: 'Meet at the park' },
    });
    await eventually(async () => {
      await searchFor(t.page, 'cafe');
      return (await hits(t.page).count()) === 1;
    }, 'the edited message is not found');
    expect(await hits(t.page).first().getAttribute('data-seq')).toBe(String(xss));

    // Escape clears the words, then leaves the search: the chat list is back.
    await field(t.page).focus();
    await t.page.keyboard.press('Escape');
    expect(await field(t.page).inputValue()).toBe('');
    await t.page.keyboard.press('Escape');
    await t.page.getByRole('navigation', { name: 'Conversations' }).waitFor();
    expect(t.errors).toEqual([]);
    await t.context.close();
  });

  it('searches in one chat, by sender and by date', async () => {
    const ann = await user(env.server.url, 'ann', 'Ann Filter');
    const ben = await user(env.server.url, 'ben', 'Ben Filter');
    const cat = await user(env.server.url, 'cat', 'Cat Filter');
    const g = await ann.http.createGroup({ name: 'Lunch Club', members: [ben.username, cat.username] });
    const d = await ben.http.direct({ username: ann.username });
    const fromBen = await send(ben, g.id, 'lunch at noon?');
    const fromCat = await send(cat, g.id, 'lunch sounds good');
    await send(ben, d.id, 'private lunch talk');

    const t = await newTab(env.browser, env.server.url);
    await logIn(t.page, ann.username);
    await typeInto(field(t.page), 'lunch');
    await settled(t.page);
    expect(await hits(t.page).count()).toBe(3);
    // The group's name matches too: it is listed among the chats found.
    await t.page.getByRole('list', { name: 'Chats found' }).getByText('Lunch Club').waitFor();

    // In the group: "Search in this chat" keeps the words and adds the chat's chip.
    await field(t.page).focus();
    await t.page.keyboard.press('Escape');
    await t.page.locator('[data-testid="conversation"][data-name="Lunch Club"]').click();
    await t.page.getByTestId('composer').waitFor();
    await t.page.getByRole('button', { name: 'Search in this chat' }).click();
    expect(await field(t.page).evaluate((el) => el === document.activeElement)).toBe(true);
    await t.page.getByTestId('search-chat-chip').getByText('Lunch Club').waitFor();
    await t.page.keyboard.type('lunch');
    await settled(t.page);
    expect(
      (await hits(t.page).evaluateAll((els) => els.map((e) => e.getAttribute('data-seq')))).sort(),
    ).toEqual([String(fromBen), String(fromCat)].sort());

    // Only Cat's.
    await t.page.getByLabel('Sender', { exact: true }).selectOption({ label: 'Cat Filter' });
    await settled(t.page);
    expect(await hits(t.page).count()).toBe(1);
    expect(await hits(t.page).getAttribute('data-seq')).toBe(String(fromCat));
    expect(await hits(t.page).textContent()).toContain('Cat Filter');

    // Dates: the last 7 days hold it; days that end yesterday do not.
    await t.page.getByLabel('Date', { exact: true }).selectOption({ label: 'Last 7 days' });
    await settled(t.page);
    expect(await hits(t.page).count()).toBe(1);
    await t.page.getByLabel('Date', { exact: true }).selectOption({ label: 'Choose dates' });
    const yesterday = new Date(Date.now() - 24 * 60 * 60 * 1000);
    const day = `${yesterday.getFullYear()}-${String(yesterday.getMonth() + 1).padStart(2, '0')}-${String(yesterday.getDate()).padStart(2, '0')}`;
    await t.page.getByLabel('End date', { exact: true }).fill(day);
    await settled(t.page);
    await t.page.getByText('No results').waitFor();
    await t.page.getByLabel('Date', { exact: true }).selectOption({ label: 'Any time' });

    // Removing the chat's chip searches every chat again.
    await t.page.getByRole('button', { name: 'Search all chats' }).click();
    await settled(t.page);
    expect(await hits(t.page).count()).toBe(3);
    expect(t.errors).toEqual([]);
    await t.context.close();
  });

  it('opens a hit far back in a long chat at its message, highlighted, by keyboard', async () => {
    const ann = await user(env.server.url, 'ann', 'Ann Long');
    const ben = await user(env.server.url, 'ben', 'Ben Long');
    const c = await ben.http.direct({ username: ann.username });
    const needle = await send(ben, c.id, 'the quokka was here first');
    for (let i = 0; i < 300; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, k) =>
          ben.http.send(c.id, { clientId: `f-${i + k}`, text: `filler ${i + k}` }),
        ),
      );
    }

    const t = await newTab(env.browser, env.server.url);
    await logIn(t.page, ann.username);
    // Typed straight after the shortcut: no key may land outside the field.
    await t.page.keyboard.press('Control+k');
    await t.page.keyboard.type('quokka');
    await settled(t.page);
    // Arrow down to the hit, Enter opens it.
    await t.page.keyboard.press('ArrowDown');
    expect(await hits(t.page).evaluate((el) => el === document.activeElement)).toBe(true);
    await t.page.keyboard.press('Enter');
    const original = t.page.locator(`[data-testid="message"][data-seq="${needle}"]`);
    await original.filter({ hasText: 'the quokka was here first' }).waitFor();
    await eventually(
      async () => (await original.getAttribute('class'))?.includes('highlight') === true,
      'highlight',
    );
    expect(await original.isVisible()).toBe(true);
    // The results stay while the chat is open.
    expect(await hits(t.page).count()).toBe(1);

    // Many hits come a page at a time.
    await searchFor(t.page, 'filler');
    expect(await hits(t.page).count()).toBe(20);
    await t.page.getByRole('button', { name: 'Load more' }).click();
    await settled(t.page);
    expect(await hits(t.page).count()).toBe(40);
    expect(t.errors).toEqual([]);
    await t.context.close();
  });

  it('on a phone, results take the list screen and come back after the chat', async () => {
    const ann = await user(env.server.url, 'ann', 'Ann Phone');
    const ben = await user(env.server.url, 'ben', 'Ben Phone');
    const c = await ben.http.direct({ username: ann.username });
    const seq = await send(ben, c.id, 'the ferry leaves at nine');
    await send(ben, c.id, 'see you there');

    const t = await newTab(env.browser, env.server.url, PHONE);
    await logIn(t.page, ann.username);
    await typeInto(field(t.page), 'ferry');
    await settled(t.page);
    await hits(t.page).tap();
    await t.page.locator(`[data-testid="message"][data-seq="${seq}"]`).waitFor();
    expect(await field(t.page).isVisible()).toBe(false);

    // Back: the results, as they were.
    await t.page.getByRole('button', { name: 'Back to chats' }).tap();
    await hits(t.page).waitFor();
    expect(await field(t.page).inputValue()).toBe('ferry');

    // From the chat, "Search in this chat" shows the search with the chat's chip.
    await hits(t.page).tap();
    await t.page.getByTestId('composer').waitFor();
    await t.page.getByRole('button', { name: 'Search in this chat' }).tap();
    await t.page.getByTestId('search-chat-chip').waitFor();
    await settled(t.page);
    expect(await hits(t.page).count()).toBe(1);
    expect(t.errors).toEqual([]);
    await t.context.close();
  });
});
