/** Two tabs of one user stay in sync: messages, read state and badges. */
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/sdk.js';
import {
  anotherTab,
  bubble,
  newTab,
  openChat,
  openToAllInPage,
  row,
  sendMessage,
  serverAndBrowser,
  signUp,
  startDirect,
  uname,
} from './helpers.js';

describe('two tabs of one user', () => {
  const env = serverAndBrowser();

  it('shows the same messages and clears the badge in both when one reads', async () => {
    const [tess, uri] = [uname('tess'), uname('uri')];
    const t1 = await newTab(env.browser, env.server.url);
    await signUp(t1.page, tess, 'Tess Tab');
    await openToAllInPage(t1.page);
    // The second tab shares the session (localStorage): no second login.
    const t2 = await anotherTab(t1, env.server.url);
    await t2.page.getByRole('heading', { name: 'Chats' }).waitFor();

    const u = await newTab(env.browser, env.server.url);
    await signUp(u.page, uri, 'Uri Other');
    await openToAllInPage(u.page);
    await startDirect(u.page, tess);
    await sendMessage(u.page, 'First for both tabs');
    await sendMessage(u.page, 'Second for both tabs');

    for (const t of [t1, t2]) {
      await eventually(
        async () => (await row(t.page, 'Uri Other').getByTestId('unread-badge').textContent()) === '2',
        'badge 2 in each tab',
      );
    }

    // Reading in tab 1 clears the badge in tab 2.
    await openChat(t1.page, 'Uri Other');
    await bubble(t1.page, 'Second for both tabs').waitFor();
    await eventually(
      async () => (await row(t2.page, 'Uri Other').getByTestId('unread-badge').count()) === 0,
      'badge cleared in the other tab',
    );
    expect(await row(t1.page, 'Uri Other').getByTestId('unread-badge').count()).toBe(0);

    // A message sent from tab 2 shows in tab 1 as mine, once.
    await openChat(t2.page, 'Uri Other');
    await sendMessage(t2.page, 'Sent from the second tab');
    const mine = bubble(t1.page, 'Sent from the second tab');
    await mine.waitFor();
    expect(await mine.getAttribute('class')).toContain('out');
    await bubble(u.page, 'Sent from the second tab').waitFor();
    await eventually(async () => (await mine.getAttribute('data-status')) === 'read', 'read tick in tab 1');
    expect(await bubble(t1.page, 'Sent from the second tab').count()).toBe(1);
    expect(await bubble(t2.page, 'Sent from the second tab').count()).toBe(1);
    for (const t of [t1, t2, u]) expect(t.errors).toEqual([]);
  });
});
