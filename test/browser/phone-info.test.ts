/**
 * On a phone the chat stays mounted, hidden, behind its info screen. Opening info in a chat
 * longer than a screen once hung the tab (the hidden message list re-rendered forever); now
 * the page keeps answering, and back shows the messages scrolled where they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';
import { SERVER_ARGS, bubble, launch, newTab, row, uname } from './helpers.js';
import { PHONE, logInByKeyboard, responsive } from './keyboard.js';

const MESSAGES = 50;

/** Send `n` messages of varied length from alternating senders. */
async function fill(id: string, senders: TestUser[], n: number): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const from = senders[i % senders.length] as TestUser;
    const text = `Message ${i}: ${'some words to wrap '.repeat(1 + (i % 5))}`.trim();
    await from.http.send(id, { clientId: `${id}-${i}`, text });
  }
}

interface TopRow {
  seq: string;
  offset: number;
}

/** The message at the top of the message list, and its distance from the list's top. */
function topRow(page: Page): Promise<TopRow | null> {
  return page.evaluate(() => {
    const list = document.querySelector<HTMLElement>('.messages');
    if (list === null) return null;
    const top = list.getBoundingClientRect().top;
    for (const m of Array.from(document.querySelectorAll<HTMLElement>('[data-testid="message"]'))) {
      const r = m.getBoundingClientRect();
      if (r.bottom > top + 1 && m.dataset.seq !== undefined) {
        return { seq: m.dataset.seq, offset: Math.round(r.top - top) };
      }
    }
    return null;
  });
}

/** Scroll the message list to the middle, the way a reader would leave it. */
async function scrollToMiddle(page: Page): Promise<TopRow> {
  await page.evaluate(() => {
    const list = document.querySelector<HTMLElement>('.messages');
    if (list !== null) list.scrollTop = (list.scrollHeight - list.clientHeight) / 2;
  });
  // Settled: the same row at the same place twice in a row.
  let last: TopRow | null = null;
  await expect
    .poll(
      async () => {
        const now = await topRow(page);
        const same = now !== null && last !== null && now.seq === last.seq && now.offset === last.offset;
        last = now;
        return same;
      },
      { timeout: 20_000, interval: 300 },
    )
    .toBe(true);
  return last as unknown as TopRow;
}

describe('chat info on a phone', () => {
  let server: ServerHandle;
  let browser: Browser;
  let ana: TestUser;
  let bob: TestUser;
  let directId: string;
  let groupId: string;

  beforeAll(async () => {
    server = await startServer({ args: SERVER_ARGS });
    browser = await launch();
    ana = await newUser(server.url, uname('ana'));
    await openToAll(ana);
    await ana.http.updateMe({ displayName: 'Ana Phone' });
    bob = await newUser(server.url, uname('bob'));
    await openToAll(bob);
    await bob.http.updateMe({ displayName: 'Bob Long' });
    const carol = await newUser(server.url, uname('carol'));
    await openToAll(carol);
    directId = (await bob.http.direct({ username: ana.username })).id;
    await fill(directId, [bob, ana], MESSAGES);
    groupId = (await bob.http.createGroup({ name: 'Long group', members: [ana.username, carol.username] }))
      .id;
    await fill(groupId, [bob, carol, ana], MESSAGES);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });

  for (const [name, heading] of [
    ['Bob Long', 'Contact info'],
    ['Long group', 'Group info'],
  ] as const) {
    it(`opens info in a long chat (${name}) and comes back to the same place`, async () => {
      const t = await newTab(browser, server.url, PHONE);
      const page = t.page;
      await logInByKeyboard(page, ana.username);
      await row(page, name).tap();
      await bubble(page, `Message ${MESSAGES}:`).waitFor();
      const before = await scrollToMiddle(page);
      expect(Number(before.seq)).toBeLessThan(MESSAGES - 5);

      await page.getByRole('button', { name: 'Conversation info' }).tap();
      expect(await responsive(page)).toBe(true);
      await page.getByRole('heading', { name: heading }).waitFor();
      expect(await responsive(page)).toBe(true);

      await page.getByRole('button', { name: 'Close info' }).tap();
      await page.getByTestId('composer').waitFor();
      await expect.poll(() => topRow(page), { timeout: 20_000 }).toEqual(before);
      expect(t.errors).toEqual([]);
      await t.context.close();
    });
  }

  it('opens a tab straight at the info address of a long chat', async () => {
    const t = await newTab(browser, server.url, PHONE);
    await logInByKeyboard(t.page, ana.username);
    const page = await t.context.newPage();
    await page.goto(`${server.url}/#/c/${encodeURIComponent(groupId)}/info`);
    await page.getByRole('heading', { name: 'Group info' }).waitFor();
    expect(await responsive(page)).toBe(true);
    // The list appears at its end.
    await page.getByRole('button', { name: 'Close info' }).tap();
    const last = bubble(page, `Message ${MESSAGES}:`);
    await last.waitFor();
    await expect
      .poll(
        () =>
          page.evaluate(() => {
            const list = document.querySelector<HTMLElement>('.messages');
            return list !== null && list.scrollHeight - list.clientHeight - list.scrollTop <= 24;
          }),
        { timeout: 20_000 },
      )
      .toBe(true);
    expect(await page.getByTestId('jump-latest').count()).toBe(0);
    await t.context.close();
  });
});
