/**
 * Push notifications in the web app. Headless Chromium cannot subscribe to a push service
 * (`pushManager.subscribe` fails with "Registration failed - permission denied": Chromium
 * only speaks to Google's push service, which is not reachable here). So the server's
 * notifications go to the RFC 8030 stand-in of test/helpers/push-service.ts, which decrypts
 * them, and the test hands each decrypted payload to the app's service worker as a real push
 * event with the DevTools protocol (ServiceWorker.deliverPushMessage); the notifications the
 * worker shows are then read back with `registration.getNotifications()`. A notification
 * cannot be clicked through DevTools either: the click's effect in the app (the worker's
 * `parley.open` message) is sent to the page instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { PushPayload } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { PushServiceStandIn } from '../helpers/push-service.js';
import { collapseKey } from '@parley/server';
import { eventually, newDevice, newUser, openToAll } from '../helpers/sdk.js';
import { SERVER_ARGS, launch, newTab, row, screenshot, signUp, uname, openToAllInPage } from './helpers.js';

interface Shown {
  title: string;
  body: string;
  tag: string;
  data: { conversationId: string; count: number; seq: number };
}

const notifications = (page: Page): Promise<Shown[]> =>
  page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return (await reg.getNotifications()).map((n) => ({
      title: n.title,
      body: n.body,
      tag: n.tag,
      data: n.data as Shown['data'],
    }));
  });

describe('push notifications in the web app', () => {
  let server: ServerHandle;
  let browser: Browser;
  let push: PushServiceStandIn;

  beforeAll(async () => {
    push = await PushServiceStandIn.start();
    server = await startServer({
      args: [...SERVER_ARGS, '--web-push-allow-http', 'true', '--push-poll-ms', '200'],
    });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
    await push?.close();
  });

  it('offers notifications after login, not on the login page, and remembers "Not now"', async () => {
    const tab = await newTab(browser, server.url);
    await tab.page.getByRole('heading', { name: 'Log in to Parley' }).waitFor();
    expect(await tab.page.getByTestId('push-prompt').count()).toBe(0);
    await signUp(tab.page, uname('pat'), 'Pat');
    await openToAllInPage(tab.page);
    await tab.page.getByTestId('push-prompt').waitFor();
    await screenshot(tab.page, 'push-prompt');
    await tab.page.getByRole('button', { name: 'Not now' }).click();
    await tab.page.getByTestId('push-prompt').waitFor({ state: 'detached' });
    await tab.page.reload();
    await tab.page.getByRole('heading', { name: 'Chats' }).waitFor();
    expect(await tab.page.getByTestId('push-prompt').count()).toBe(0);
    expect(tab.errors).toEqual([]);
    await tab.context.close();
  });

  it("shows the server's notifications merged per conversation, and opens the chat", async () => {
    const ana = await newUser(server.url, uname('ana'));
    await openToAll(ana);
    const bobName = uname('bob');
    const tab = await newTab(browser, server.url, { permissions: ['notifications'] });
    await signUp(tab.page, bobName, 'Bob Stone');
    await openToAllInPage(tab.page);
    const origin = new URL(server.url).origin;
    const cdp = await tab.context.newCDPSession(tab.page);
    const registrations: string[] = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => {
      for (const r of e.registrations)
        if (!r.isDeleted && r.scopeURL === `${origin}/`) registrations.push(r.registrationId);
    });
    await cdp.send('ServiceWorker.enable');
    await tab.page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await eventually(() => registrations.length > 0, 'the service worker registration');

    // Bob's notifications, as his push service receives them.
    const bob = await newDevice(server.url, bobName, 'phone');
    const sub = push.subscribe();
    await bob.http.registerPush({ kind: 'webpush', endpoint: sub.endpoint, keys: sub.keys });
    const c = await ana.http.direct({ userId: bob.id });
    await bob.http.setPrivacy({ online: 'everyone' }); // ana, a 1:1 partner, sees him go
    // Bob leaves the app (the page goes away): once he is offline, he is notified.
    await tab.page.goto('about:blank');
    await eventually(
      async () => (await ana.http.presence([bob.id])).presence[0]?.online === false,
      'bob offline',
    );
    // Markup in the text: the notification shows it without the markers.
    for (let i = 1; i <= 3; i++) await ana.http.send(c.id, { clientId: `n${i}`, text: `*ping* _${i}_` });
    await eventually(() => push.deliveriesTo(sub).length === 3, 'three notifications for bob');
    const payloads: PushPayload[] = push.deliveriesTo(sub).map((d) => d.payload);

    // Into the worker as real push events, while no window of the app is open.
    for (const p of payloads) {
      await cdp.send('ServiceWorker.deliverPushMessage', {
        origin,
        registrationId: registrations[0] ?? '0',
        data: JSON.stringify(p),
      });
    }
    await tab.page.goto(server.url);
    await tab.page.getByRole('heading', { name: 'Chats' }).waitFor();
    let shown: Shown[] = [];
    await eventually(
      async () => {
        shown = await notifications(tab.page);
        return shown.length === 1 && shown[0]?.data.count === 3;
      },
      () => `one merged notification, got ${JSON.stringify(shown)}`,
    );
    expect(shown[0]).toMatchObject({
      title: ana.username,
      body: '3 new messages\nping 3',
      tag: payloads[0]?.tag,
      data: { conversationId: c.id, count: 3, seq: 3 },
    });

    // What a click does in an open app: the worker tells it which conversation to show.
    await tab.page.evaluate((id) => {
      navigator.serviceWorker.dispatchEvent(
        new MessageEvent('message', { data: { type: 'parley.open', conversationId: id } }),
      );
    }, c.id);
    await tab.page.getByTestId('composer').waitFor();
    expect(await tab.page.getByTestId('chat-name').textContent()).toBe(ana.username);
    // With permission given, the app subscribes at start; Chromium logs that its contexts (like
    // incognito windows) have no Push API. Nothing else may go wrong.
    expect(tab.errors.filter((e) => !e.includes('Push API in incognito'))).toEqual([]);
    await tab.context.close();
  });

  it('shows no push for the chat a visible window shows, and shows one for another chat', async () => {
    const ana = await newUser(server.url, uname('ana'));
    const cy = await newUser(server.url, uname('cy'));
    await openToAll(ana, cy);
    const bobName = uname('bob');
    const tab = await newTab(browser, server.url, { permissions: ['notifications'] });
    await signUp(tab.page, bobName, 'Bob Stone');
    await openToAllInPage(tab.page);
    const origin = new URL(server.url).origin;
    const cdp = await tab.context.newCDPSession(tab.page);
    const registrations: string[] = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => {
      for (const r of e.registrations)
        if (!r.isDeleted && r.scopeURL === `${origin}/`) registrations.push(r.registrationId);
    });
    await cdp.send('ServiceWorker.enable');
    await tab.page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await eventually(() => registrations.length > 0, 'the service worker registration');
    const bob = await newDevice(server.url, bobName, 'phone');
    const withAna = await ana.http.direct({ userId: bob.id });
    const withCy = await cy.http.direct({ userId: bob.id });
    await ana.http.send(withAna.id, { clientId: 'v1', text: 'on screen' });
    await row(tab.page, ana.username).click();
    await tab.page.getByTestId('composer').waitFor();
    const payload = (conversationId: string, from: string, text: string): PushPayload => ({
      type: 'message',
      conversationId,
      conversationName: from,
      kind: 'direct',
      messageId: `m_${text}`,
      seq: 1,
      senderId: 'u_x',
      senderName: from,
      text,
      unread: 1,
      createdAt: Date.now(),
      tag: collapseKey(conversationId),
    });
    // The app's own alert for the message (a headless window may not count as focused) goes.
    await tab.page.evaluate(async () => {
      for (const n of await (await navigator.serviceWorker.ready).getNotifications()) n.close();
    });
    // One push at a time: the viewed chat's first, so by the time cy's shows it was handled.
    for (const p of [
      payload(withAna.id, ana.username, 'pushed'),
      payload(withCy.id, cy.username, 'elsewhere'),
    ]) {
      await cdp.send('ServiceWorker.deliverPushMessage', {
        origin,
        registrationId: registrations[0] ?? '0',
        data: JSON.stringify(p),
      });
    }
    let shown: Shown[] = [];
    await eventually(
      async () => (shown = await notifications(tab.page)).some((n) => n.body === 'elsewhere'),
      'a notification for the other chat',
    );
    expect(
      shown.map((n) => [n.title, n.body]),
      JSON.stringify(shown),
    ).toEqual([[cy.username, 'elsewhere']]);
    expect(tab.errors.filter((e) => !e.includes('Push API in incognito'))).toEqual([]);
    await tab.context.close();
  });

  it('mutes a conversation and hides message text from the app', async () => {
    const ana = await newUser(server.url, uname('ana'));
    await openToAll(ana);
    const bobName = uname('bob');
    const tab = await newTab(browser, server.url);
    await signUp(tab.page, bobName, 'Bob Stone');
    await openToAllInPage(tab.page);
    const bob = await newDevice(server.url, bobName, 'sdk');
    await ana.http.direct({ userId: bob.id });
    await ana.http.send((await ana.http.direct({ userId: bob.id })).id, { clientId: 'h', text: 'hi' });
    await row(tab.page, ana.username).click();
    await tab.page.getByRole('button', { name: 'Conversation info' }).click();
    await tab.page.getByTestId('mute').getByRole('button', { name: 'Always' }).click();
    await tab.page.getByTestId('mute-state').waitFor();
    expect(await tab.page.getByTestId('mute-state').textContent()).toBe('Muted');
    await row(tab.page, ana.username).getByTestId('muted').waitFor();
    const muted = (await bob.http.conversations()).conversations[0];
    expect(muted?.mutedUntil).toBeNull();
    await screenshot(tab.page, 'push-muted');
    await tab.page.getByTestId('mute').getByRole('button', { name: 'Unmute' }).click();
    await row(tab.page, ana.username).getByTestId('muted').waitFor({ state: 'detached' });
    expect('mutedUntil' in ((await bob.http.conversations()).conversations[0] ?? {})).toBe(false);

    await tab.page.getByRole('button', { name: 'Settings and devices' }).click();
    const preview = tab.page.getByLabel('Show message text in notifications');
    await eventually(
      async () => (await preview.isEnabled()) && (await preview.isChecked()),
      'preview setting loaded',
    );
    await preview.uncheck();
    await eventually(
      async () => !(await bob.http.settings()).pushPreview,
      'the server has pushPreview false',
    );
    expect(tab.errors).toEqual([]);
    await tab.context.close();
  });
});
