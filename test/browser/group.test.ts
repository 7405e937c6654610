/** A group of three in three browsers: created with one member, one added, one leaving. */
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/sdk.js';
import {
  bubble,
  newTab,
  openChat,
  openToAllInPage,
  row,
  screenshot,
  sendMessage,
  serverAndBrowser,
  signUp,
  uname,
} from './helpers.js';

describe('group chat', () => {
  const env = serverAndBrowser();

  it('creates a group, adds a member, shows who read, and lets a member leave', async () => {
    const [ann, ben, cat] = [uname('ann'), uname('ben'), uname('cat')];
    const a = await newTab(env.browser, env.server.url);
    const b = await newTab(env.browser, env.server.url);
    const c = await newTab(env.browser, env.server.url);
    await signUp(a.page, ann, 'Ann Archer');
    await openToAllInPage(a.page);
    await signUp(b.page, ben, 'Ben Baker');
    await openToAllInPage(b.page);
    await signUp(c.page, cat, 'Cat Carter');
    await openToAllInPage(c.page);

    // Ann creates the group with Ben.
    await a.page.getByRole('button', { name: 'New group' }).click();
    await a.page.getByLabel('Group name').fill('Book club');
    await a.page.getByLabel(/Add members by username/).fill(ben);
    await a.page.getByLabel(/Add members by username/).press('Enter');
    await a.page.getByRole('listitem').filter({ hasText: 'Ben Baker' }).waitFor();
    await a.page.getByRole('button', { name: 'Create group' }).click();
    await a.page.getByTestId('composer').waitFor();
    expect(await a.page.getByTestId('chat-name').textContent()).toBe('Book club');
    await sendMessage(a.page, 'Welcome to the book club!');
    await row(b.page, 'Book club').waitFor();

    // Ann adds Cat from the group info (members fetched when it opens).
    await a.page.getByRole('button', { name: 'Conversation info' }).click();
    await a.page.getByTestId('members').waitFor();
    await a.page.getByLabel('Add members by username').fill(cat);
    await a.page.getByRole('button', { name: 'Add', exact: true }).click();
    await a.page.locator(`[data-testid="member"][data-username="${cat}"]`).waitFor();
    expect(await a.page.getByTestId('member').count()).toBe(3);
    await a.page
      .locator(`[data-testid="member"][data-username="${cat}"]`)
      .getByRole('button', { name: 'Make admin' })
      .click();
    await a.page.locator(`[data-testid="member"][data-username="${cat}"]`).getByText('Admin').waitFor();
    await screenshot(a.page, 'group-info');
    await a.page.getByRole('button', { name: 'Close info' }).click();

    // Cat sees the group and writes; everyone sees the sender's name.
    await row(c.page, 'Book club').waitFor();
    await openChat(c.page, 'Book club');
    await sendMessage(c.page, 'Thanks for adding me');
    await bubble(a.page, 'Thanks for adding me').waitFor();
    expect(await bubble(a.page, 'Thanks for adding me').locator('.sender').textContent()).toBe('Cat Carter');
    await openChat(b.page, 'Book club');
    await bubble(b.page, 'Thanks for adding me').waitFor();

    // Ann's welcome has been read by Ben and Cat: read ticks, and both listed on demand.
    const welcome = bubble(a.page, 'Welcome to the book club!');
    await eventually(async () => (await welcome.getAttribute('data-status')) === 'read', 'read by all');
    await welcome.getByRole('button', { name: /Show who read it/ }).click();
    const receipts = a.page.getByTestId('receipts');
    await receipts.waitFor();
    const text = (await receipts.textContent()) ?? '';
    expect(text).toContain('Read by · 2');
    expect(text).toContain('Ben Baker');
    expect(text).toContain('Cat Carter');
    await screenshot(a.page, 'group-message-info');
    await a.page.getByRole('button', { name: 'Close', exact: true }).click();
    await screenshot(a.page, 'group-chat');

    // Ben leaves, once the app's own dialog asked: the group stays in his list, read-only; the
    // others see two members.
    await b.page.getByRole('button', { name: 'Conversation info' }).click();
    await b.page.getByRole('button', { name: 'Leave group' }).click();
    await b.page.getByTestId('confirm').getByRole('button', { name: 'Leave group' }).click();
    await b.page.getByTestId('readonly-bar').getByText('You left this group').waitFor();
    expect(await b.page.getByTestId('system-line').textContent()).toBe('You left');
    expect(await row(b.page, 'Book club').count()).toBe(1);
    await a.page.getByRole('button', { name: 'Conversation info' }).click();
    await eventually(async () => (await a.page.getByTestId('member').count()) === 2, 'two members left');
    expect(await a.page.locator(`[data-testid="member"][data-username="${ben}"]`).count()).toBe(0);
    for (const t of [a, b, c]) expect(t.errors).toEqual([]);
  });
});
