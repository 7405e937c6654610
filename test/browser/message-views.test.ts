/**
 * Views over messages in the web app: the pinned bar and list of a group, the Saved and
 * Mentions views from the chat list, `@` completion and the mention highlight, and forwarding
 * a message to two chats.
 */
import { describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { eventually, newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';
import { bubble, logIn, newTab, openChat, screenshot, serverAndBrowser, uname } from './helpers.js';

function menuItem(page: Page, name: string): Locator {
  return page.getByTestId('message-menu').getByRole('menuitem', { name, exact: true });
}

function messageAt(page: Page, seq: number): Locator {
  return page.locator(`[data-testid="message"][data-seq="${seq}"]`);
}

async function highlighted(message: Locator): Promise<boolean> {
  return (await message.getAttribute('class'))?.includes('highlight') === true;
}

async function user(url: string, prefix: string, displayName: string): Promise<TestUser> {
  const u = await newUser(url, uname(prefix));
  await openToAll(u);
  await u.http.updateMe({ displayName });
  return u;
}

/** Open a sidebar view by keyboard: focus its header button, then Enter. */
async function openView(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name, exact: true }).focus();
  await page.keyboard.press('Enter');
}

describe('message views', () => {
  const env = serverAndBrowser(['--send-rate-per-sec', '100000', '--send-burst', '100000']);

  it('pin bar: an admin pins, the member jumps to it and lists it; an unpin removes it live', async () => {
    const url = env.server.url;
    const ada = await user(url, 'ada', 'Ada Pin');
    const max = await user(url, 'max', 'Max Pin');
    const g = await ada.http.createGroup({ name: 'Pin Club', members: [max.username] });
    const pinned = await ada.http.send(g.id, { clientId: 'pin-0', text: 'the *rules* of the club' });
    // Far enough back that the member's first page does not hold it.
    for (let i = 1; i <= 80; i += 40) {
      await Promise.all(
        Array.from({ length: 40 }, (_, k) =>
          ada.http.send(g.id, { clientId: `pin-${i + k}`, text: `filler ${i + k}` }),
        ),
      );
    }

    const a = await newTab(env.browser, url);
    await logIn(a.page, ada.username);
    const m = await newTab(env.browser, url);
    await logIn(m.page, max.username);
    await openChat(m.page, 'Pin Club');
    await bubble(m.page, 'filler 80').waitFor();
    expect(await m.page.getByTestId('pin-bar').count()).toBe(0);

    // Ada opens the message by its link and pins it from its menu.
    await a.page.goto(`${url}/#/c/${g.id}/m/${pinned.seq}`);
    await messageAt(a.page, pinned.seq).filter({ hasText: 'the rules of the club' }).waitFor();
    await messageAt(a.page, pinned.seq).click({ button: 'right' });
    await menuItem(a.page, 'Pin').click();

    // Max's bar shows it live: sender, and the text with its markup as elements.
    const bar = m.page.getByTestId('pin-bar');
    await bar.filter({ hasText: 'the rules of the club' }).waitFor();
    expect(await bar.textContent()).toContain('Ada Pin');
    expect(await bar.locator('.snippet strong').textContent()).toBe('rules');
    await screenshot(m.page, 'pin-bar');

    // A click brings it into view (loading older history), highlighted.
    await m.page.getByTestId('pin-latest').click();
    const original = messageAt(m.page, pinned.seq);
    await eventually(() => highlighted(original), 'pinned message highlighted');
    await eventually(async () => !(await highlighted(original)), 'highlight over');

    // The list of pins, opened by keyboard, shows it; its item opens the message again.
    await m.page.getByTestId('jump-latest').click();
    await m.page.getByTestId('pins-open').focus();
    await m.page.keyboard.press('Enter');
    const item = m.page.getByTestId('pinned-item');
    await item.filter({ hasText: 'the rules of the club' }).waitFor();
    expect(await item.count()).toBe(1);
    await m.page.keyboard.press('Enter');
    await eventually(() => highlighted(original), 'opened from the list');
    expect(await m.page.getByTestId('pins-list').count()).toBe(0);

    // Ada unpins: Max's bar goes, live.
    await messageAt(a.page, pinned.seq).click({ button: 'right' });
    await menuItem(a.page, 'Unpin').click();
    await eventually(async () => (await bar.count()) === 0, 'pin bar gone at the member');
    for (const t of [a, m]) expect(t.errors).toEqual([]);
    await Promise.all([a.context.close(), m.context.close()]);
  });

  it('saved messages: save from the menu, listed live, unsave removes it, an item opens it', async () => {
    const url = env.server.url;
    const sal = await user(url, 'sal', 'Sal Saver');
    const bob = await user(url, 'bob', 'Bob Save');
    const cleo = await user(url, 'cleo', 'Cleo Save');
    const withBob = await bob.http.direct({ username: sal.username });
    const kept = await bob.http.send(withBob.id, { clientId: 's-1', text: 'keep this _one_' });
    const withCleo = await cleo.http.direct({ username: sal.username });
    await cleo.http.send(withCleo.id, { clientId: 's-2', text: 'hello from Cleo' });

    const t = await newTab(env.browser, url);
    await logIn(t.page, sal.username);
    await openChat(t.page, 'Bob Save');
    await bubble(t.page, 'keep this one').click({ button: 'right' });
    await menuItem(t.page, 'Save').click();

    await openView(t.page, 'Saved messages');
    const panel = t.page.getByTestId('saved-panel');
    const item = panel.getByTestId('listed-item');
    await item.filter({ hasText: 'keep this one' }).waitFor();
    const text = await item.textContent();
    expect(text).toContain('Bob Save');
    expect(await item.locator('.snippet em').textContent()).toBe('one');
    await screenshot(t.page, 'saved-view');

    // Unsaving in the open chat empties the list; saving again brings it back.
    await bubble(t.page, 'keep this one').click({ button: 'right' });
    await menuItem(t.page, 'Unsave').click();
    await panel.getByTestId('listed-empty').waitFor();
    await bubble(t.page, 'keep this one').click({ button: 'right' });
    await menuItem(t.page, 'Save').click();
    await item.filter({ hasText: 'keep this one' }).waitFor();

    // From another chat, the item opens Bob's chat at the message.
    await panel.getByRole('button', { name: 'Back' }).click();
    await openChat(t.page, 'Cleo Save');
    await openView(t.page, 'Saved messages');
    await item.filter({ hasText: 'keep this one' }).click();
    await eventually(
      async () => (await t.page.getByTestId('chat-name').textContent()) === 'Bob Save',
      "Bob's chat open",
    );
    await eventually(() => highlighted(messageAt(t.page, kept.seq)), 'saved message highlighted');
    expect(await t.page.getByTestId('saved-panel').count()).toBe(0);
    expect(t.errors).toEqual([]);
    await t.context.close();
  });

  it('completes an @mention, highlights it at the receiver, and lists it under Mentions', async () => {
    const url = env.server.url;
    const ali = await user(url, 'alice', 'Alice Mention');
    const alina = await user(url, 'alina', 'Alina Other');
    const bea = await user(url, 'bea', 'Bea Writer');
    const g = await bea.http.createGroup({
      name: 'Mention Club',
      members: [alina.username, ali.username],
    });
    await bea.http.send(g.id, { clientId: 'm-0', text: 'welcome' });

    const a = await newTab(env.browser, url);
    await logIn(a.page, ali.username);
    const b = await newTab(env.browser, url);
    await logIn(b.page, bea.username);
    await openChat(b.page, 'Mention Club');
    await bubble(b.page, 'welcome').waitFor();

    // Bea types "@ali": both Alices are offered; arrows pick Alice Mention, Enter completes.
    await b.page.getByTestId('composer').click();
    await b.page.keyboard.type('look @ali');
    const options = b.page.getByTestId('mention-list').getByRole('option');
    await eventually(async () => (await options.count()) === 2, 'two members offered');
    const selected = b.page.getByTestId('mention-list').locator('[aria-selected="true"]');
    for (let i = 0; i < 2 && !(await selected.textContent())?.includes('Alice Mention'); i++) {
      await b.page.keyboard.press('ArrowDown');
    }
    expect(await selected.textContent()).toContain('Alice Mention');
    await b.page.keyboard.press('Enter');
    expect(await b.page.getByTestId('composer').inputValue()).toBe(`look @${ali.username} `);
    await b.page.keyboard.type('at this and @nobody_here');
    await b.page.keyboard.press('Enter');

    // At Alice: her name highlighted strongly, the unknown name left as text.
    const received = bubble(a.page, 'at this and');
    await openChat(a.page, 'Mention Club');
    await received.waitFor();
    const mention = received.getByTestId('mention');
    expect(await mention.count()).toBe(1);
    expect(await mention.textContent()).toBe(`@${ali.username}`);
    expect(await mention.getAttribute('class')).toContain('mention-me');
    // At Bea: highlighted, as someone else's mention.
    const sent = bubble(b.page, 'at this and').getByTestId('mention');
    await sent.waitFor();
    expect(await sent.getAttribute('class')).not.toContain('mention-me');

    // Alice's Mentions view lists it; the item opens the chat at the message.
    await openView(a.page, 'Mentions');
    const item = a.page.getByTestId('mentions-panel').getByTestId('listed-item');
    await item.filter({ hasText: 'at this and' }).waitFor();
    const text = await item.textContent();
    expect(text).toContain('Mention Club');
    expect(text).toContain('Bea Writer');
    const seq = Number(await item.getAttribute('data-seq'));
    await item.click();
    await eventually(() => highlighted(messageAt(a.page, seq)), 'mention highlighted in the chat');
    for (const t of [a, b]) expect(t.errors).toEqual([]);
    await Promise.all([a.context.close(), b.context.close()]);
  });

  it('forwards a message to two chats, marked Forwarded in both', async () => {
    const url = env.server.url;
    const fay = await user(url, 'fay', 'Fay Forward');
    const bob = await user(url, 'bob', 'Bob Source');
    const cat = await user(url, 'cat', 'Cat Target');
    const dan = await user(url, 'dan', 'Dan Member');
    const source = await bob.http.direct({ username: fay.username });
    await bob.http.send(source.id, { clientId: 'f-1', text: 'pass this on' });
    const direct = await cat.http.direct({ username: fay.username });
    await cat.http.send(direct.id, { clientId: 'f-2', text: 'hi Fay' });
    const g = await dan.http.createGroup({ name: 'Forward Club', members: [fay.username] });
    await dan.http.send(g.id, { clientId: 'f-3', text: 'group hello' });

    const t = await newTab(env.browser, url);
    await logIn(t.page, fay.username);
    await openChat(t.page, 'Bob Source');
    await bubble(t.page, 'pass this on').click({ button: 'right' });
    await menuItem(t.page, 'Forward').click();
    const dialog = t.page.getByTestId('forward-dialog');
    await dialog.waitFor();
    // The search field has focus: type, tick, search again.
    await t.page.keyboard.type('Cat');
    await dialog.getByRole('checkbox', { name: 'Cat Target' }).check();
    await t.page.getByRole('searchbox', { name: 'Search chats' }).last().focus();
    await t.page.keyboard.press('Control+A');
    await t.page.keyboard.type('Forward');
    await dialog.getByRole('checkbox', { name: 'Forward Club' }).check();
    await dialog.getByTestId('forward-send').click();
    await t.page.getByText('Forwarded to 2 chats.').waitFor();

    for (const name of ['Cat Target', 'Forward Club']) {
      await openChat(t.page, name);
      await bubble(t.page, 'pass this on').getByTestId('forwarded').waitFor();
    }
    // The other side sees it marked too.
    const { messages } = await cat.http.history(direct.id, {});
    expect(messages.find((m) => m.text === 'pass this on')?.forwarded).toBe(true);
    expect(t.errors).toEqual([]);
    await t.context.close();
  });
});
