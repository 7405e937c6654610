/**
 * Message actions in the web app: the menu opens by hover button, right-click, keyboard and
 * long press; replies quote and jump to the original (loading older history); reactions count
 * both users; edits and deletes for everyone show live on the partner's screen; a link opens a
 * chat at its message.
 */
import { describe, expect, it } from 'vitest';
import { eventually, newUser, openToAll } from '../helpers/sdk.js';
import {
  bubble,
  logIn,
  newTab,
  openChat,
  openToAllInPage,
  sendMessage,
  serverAndBrowser,
  signUp,
  startDirect,
  uname,
} from './helpers.js';
import type { Page } from 'playwright-core';

function menu(page: Page) {
  return page.getByTestId('message-menu');
}

async function chipCount(page: Page, text: string, emoji: string): Promise<string | null> {
  const chip = bubble(page, text).locator(`[data-testid="reaction"][data-emoji="${emoji}"] .count`);
  return (await chip.count()) === 0 ? null : chip.textContent();
}

describe('message actions', () => {
  const env = serverAndBrowser(['--send-rate-per-sec', '100000', '--send-burst', '100000']);

  it('reply, react, edit and delete through the menu, seen live by the partner', async () => {
    const alice = uname('alice');
    const bob = uname('bob');
    const a = await newTab(env.browser, env.server.url);
    await signUp(a.page, alice, 'Alice Act');
    await openToAllInPage(a.page);
    const b = await newTab(env.browser, env.server.url);
    await signUp(b.page, bob, 'Bob Act');
    await openToAllInPage(b.page);

    await startDirect(a.page, bob);
    await sendMessage(a.page, 'first message');
    await openChat(b.page, 'Alice Act');
    await bubble(b.page, 'first message').waitFor();

    // Hover shows the menu button; Reply quotes the message in the composer.
    await bubble(a.page, 'first message').hover();
    await bubble(a.page, 'first message').getByTestId('message-menu-button').click();
    await menu(a.page).getByRole('menuitem', { name: 'Reply' }).click();
    await a.page.getByTestId('reply-bar').waitFor();
    await a.page.getByTestId('composer').focus();
    await a.page.keyboard.type('a reply');
    await a.page.keyboard.press('Enter');
    await bubble(b.page, 'a reply').getByTestId('quote').filter({ hasText: 'first message' }).waitFor();
    expect(await a.page.getByTestId('reply-bar').count()).toBe(0);

    // Right-click: Bob reacts; Alice adds hers with the chip, then Bob takes his back.
    await bubble(b.page, 'first message').click({ button: 'right' });
    await menu(b.page).getByRole('menuitem', { name: 'React with 👍' }).click();
    await eventually(
      async () => (await chipCount(a.page, 'first message', '👍')) === '1',
      'Bob reaction at Alice',
    );
    await bubble(a.page, 'first message').locator('[data-testid="reaction"][data-emoji="👍"]').click();
    await eventually(
      async () => (await chipCount(b.page, 'first message', '👍')) === '2',
      'two reactions at Bob',
    );
    expect(
      await bubble(a.page, 'first message').locator('[data-emoji="👍"]').getAttribute('aria-pressed'),
    ).toBe('true');
    await bubble(b.page, 'first message').locator('[data-testid="reaction"][data-emoji="👍"]').click();
    await eventually(
      async () => (await chipCount(a.page, 'first message', '👍')) === '1',
      'one reaction left',
    );
    expect(await bubble(a.page, 'first message').locator('[data-emoji="👍"]').getAttribute('title')).toBe(
      'You',
    );

    // Keyboard: the menu button opens the menu, arrows move, Escape closes it.
    const button = bubble(a.page, 'first message').getByTestId('message-menu-button');
    await button.focus();
    await a.page.keyboard.press('Enter');
    await menu(a.page).waitFor();
    await a.page.keyboard.press('Escape');
    await eventually(async () => (await menu(a.page).count()) === 0, 'menu closed');
    expect(await button.evaluate((el) => el === document.activeElement)).toBe(true);
    await a.page.keyboard.press('Enter');
    await menu(a.page).waitFor();
    for (let i = 0; i < 8; i++) await a.page.keyboard.press('ArrowDown');
    expect(await a.page.evaluate(() => document.activeElement?.textContent)).toBe('Edit');
    await a.page.keyboard.press('Enter');
    await a.page.getByTestId('editing-bar').waitFor();
    await a.page.keyboard.press('Control+A');
    await a.page.keyboard.type('first message, edited');
    await a.page.keyboard.press('Enter');
    await bubble(b.page, 'first message, edited').getByTestId('edited').waitFor();
    // The quote follows the edit.
    await bubble(b.page, 'a reply')
      .getByTestId('quote')
      .filter({ hasText: 'first message, edited' })
      .waitFor();

    // Escape cancels an edit.
    await bubble(a.page, 'a reply').click({ button: 'right' });
    await menu(a.page).getByRole('menuitem', { name: 'Edit' }).click();
    await a.page.getByTestId('editing-bar').waitFor();
    // The field takes the focus once the bar has painted; Escape goes to the field, as a person's would.
    await eventually(
      () => a.page.evaluate(() => document.activeElement?.tagName === 'TEXTAREA'),
      'the field has the focus',
    );
    await a.page.keyboard.press('Escape');
    await eventually(async () => (await a.page.getByTestId('editing-bar').count()) === 0, 'edit cancelled');

    // Delete for everyone: a tombstone on both screens, in place; the quote says so too.
    await sendMessage(a.page, 'last one');
    await bubble(b.page, 'last one').waitFor();
    await bubble(a.page, 'first message, edited').click({ button: 'right' });
    await menu(a.page).getByRole('menuitem', { name: 'Delete for everyone' }).click();
    await a.page.getByTestId('confirm').getByRole('button', { name: 'Delete' }).click();
    await b.page.getByTestId('tombstone').waitFor();
    await a.page.getByTestId('tombstone').waitFor();
    expect(await b.page.locator('.messages').textContent()).not.toContain('first message, edited');
    await bubble(b.page, 'a reply')
      .getByTestId('quote')
      .filter({ hasText: 'This message was deleted' })
      .waitFor();
    const order = await b.page
      .locator('[data-testid="message"]')
      .evaluateAll((els) => els.map((e) => e.querySelector('.text')?.textContent ?? ''));
    expect(order[0]).toContain('This message was deleted');
    expect(order[order.length - 1]).toContain('last one');
    // The chat list shows the last message, not an event.
    expect(
      await b.page.locator(`[data-testid="conversation"][data-name="Alice Act"]`).textContent(),
    ).toContain('last one');

    // A phone: long press opens the menu, a swipe to the right replies.
    const phone = await newTab(env.browser, env.server.url, {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    await logIn(phone.page, bob);
    await openChat(phone.page, 'Alice Act');
    const target = bubble(phone.page, 'last one');
    await target.waitFor();
    const box = (await target.locator('.bubble').boundingBox())!;
    const cdp = await phone.context.newCDPSession(phone.page);
    const at = (x: number) => [{ x, y: box.y + box.height / 2 }];
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: at(box.x + 20) });
    await menu(phone.page).waitFor();
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await phone.page.keyboard.press('Escape');
    await eventually(async () => (await menu(phone.page).count()) === 0, 'phone menu closed');
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: at(box.x + 10) });
    for (const dx of [30, 60, 90, 110]) {
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: at(box.x + 10 + dx) });
    }
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await phone.page.getByTestId('reply-bar').filter({ hasText: 'last one' }).waitFor();
    for (const t of [a, b, phone]) expect(t.errors).toEqual([]);
    await Promise.all([a.context.close(), b.context.close(), phone.context.close()]);
  });

  it('jumps to a quoted message far back, and opens a link at its message', async () => {
    const ann = await newUser(env.server.url, uname('ann'));
    const ben = await newUser(env.server.url, uname('ben'));
    await openToAll(ann, ben);
    await ann.http.updateMe({ displayName: 'Ann Long' });
    const c = await ben.http.direct({ username: ann.username });
    const first = await ben.http.send(c.id, { clientId: 'long-0', text: 'the very first words' });
    for (let i = 1; i <= 450; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, k) =>
          ben.http.send(c.id, { clientId: `long-${i + k}`, text: `filler ${i + k}` }),
        ),
      );
    }
    await ben.http.send(c.id, { clientId: 'long-reply', text: 'answering the start', replyTo: first.seq });

    const t = await newTab(env.browser, env.server.url);
    await logIn(t.page, ann.username);
    await openChat(t.page, (await ben.http.me()).displayName);
    const quote = bubble(t.page, 'answering the start').getByTestId('quote');
    await quote.click();
    const original = t.page.locator(`[data-testid="message"][data-seq="${first.seq}"]`);
    await original.filter({ hasText: 'the very first words' }).waitFor();
    await eventually(
      async () => (await original.getAttribute('class'))?.includes('highlight') === true,
      'highlight',
    );

    // A link to a message opens the chat there.
    const seq = first.seq + 100;
    await t.page.goto(`${env.server.url}/#/c/${c.id}/m/${seq}`);
    await t.page
      .locator(`[data-testid="message"][data-seq="${seq}"]`)
      .filter({ hasText: 'filler' })
      .waitFor();
    expect(t.errors).toEqual([]);
    await t.context.close();
  });
});
