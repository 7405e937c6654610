/**
 * Offline: a message written with no network shows a clock, survives a reload (the app
 * shell comes from the service worker, the message from the IndexedDB outbox) and goes out
 * once when the network is back.
 */
import { describe, expect, it } from 'vitest';
import { eventually, newDevice } from '../helpers/sdk.js';
import {
  bubble,
  newTab,
  openChat,
  openToAllInPage,
  screenshot,
  sendMessage,
  serverAndBrowser,
  signUp,
  startDirect,
  uname,
} from './helpers.js';

describe('offline sending', () => {
  const env = serverAndBrowser();

  it('keeps a message written offline across a reload and delivers it once', async () => {
    const [olga, pete] = [uname('olga'), uname('pete')];
    const o = await newTab(env.browser, env.server.url);
    const p = await newTab(env.browser, env.server.url);
    await signUp(o.page, olga, 'Olga Olsen');
    await openToAllInPage(o.page);
    await signUp(p.page, pete, 'Pete Park');
    await openToAllInPage(p.page);
    await startDirect(o.page, pete);
    await sendMessage(o.page, 'Online message');
    await openChat(p.page, 'Olga Olsen');
    await bubble(p.page, 'Online message').waitFor();

    // The service worker controls the page, so the app shell opens without a network.
    await o.page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, {
      timeout: 15_000,
    });

    await o.context.setOffline(true);
    await o.page.getByText(/You're offline/).waitFor();
    await sendMessage(o.page, 'Written while offline');
    const pending = bubble(o.page, 'Written while offline');
    await pending.waitFor();
    expect(await pending.getAttribute('data-status')).toBe('sending');
    await screenshot(o.page, 'offline-pending');

    // Reload with no network: cached chats and the unsent message are still there.
    await o.page.reload();
    await o.page.getByTestId('conversation').first().waitFor();
    await o.page.getByText(/You're offline/).waitFor();
    await bubble(o.page, 'Written while offline').waitFor();
    expect(await bubble(o.page, 'Written while offline').getAttribute('data-status')).toBe('sending');
    await bubble(o.page, 'Online message').waitFor();

    // Back online: it goes out, and arrives once.
    await o.context.setOffline(false);
    await bubble(p.page, 'Written while offline').waitFor({ timeout: 20_000 });
    await eventually(
      async () => (await bubble(o.page, 'Written while offline').getAttribute('data-status')) !== 'sending',
      'acked after reconnect',
      20_000,
    );
    const peteApi = await newDevice(env.server.url, pete);
    const convs = await peteApi.http.conversations();
    const conv = convs.conversations[0];
    expect(conv).toBeDefined();
    const history = await peteApi.http.history(conv?.id ?? '', { limit: 50 });
    expect(history.messages.filter((m) => m.text === 'Written while offline')).toHaveLength(1);
    expect(await bubble(p.page, 'Written while offline').count()).toBe(1);
    expect(await bubble(o.page, 'Written while offline').count()).toBe(1);
    expect(o.errors).toEqual([]);
  });
});
