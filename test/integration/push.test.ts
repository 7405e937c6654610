/**
 * Push notifications end to end: the real server process, the SDK over real sockets, and the
 * local stand-ins of test/helpers/push-service.ts (a Web Push service that checks VAPID and
 * decrypts with the subscription's own keys, FCM with its OAuth2 exchange, APNs over h2c).
 *
 * "Nothing was sent" is checked with a sentinel: a message stored later, to someone else,
 * whose notification has arrived. The server turns stored messages into notifications in
 * order, one batch after the other, so by then the earlier message's notifications would be
 * queued and, having been due earlier, sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PushPayload } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { ApnsStandIn, PushServiceStandIn } from '../helpers/push-service.js';
import type { TestSubscription } from '../helpers/push-service.js';
import { Recorder, eventually, newDevice, newUser, openToAll } from '../helpers/sdk.js';
import { clusterUnavailable, startCluster, wsOf } from '../helpers/cluster.js';
import { RawSocket } from '../helpers/raw.js';
import type { TestUser } from '../helpers/sdk.js';

let pushService: PushServiceStandIn;
let apns: ApnsStandIn;

beforeAll(async () => {
  pushService = await PushServiceStandIn.start();
  apns = await ApnsStandIn.start();
});
afterAll(async () => {
  await pushService?.close();
  await apns?.close();
});

/** Options that point the server at the stand-ins: flags for URLs, env vars for the secrets. */
function pushConfig(extra: string[] = [], native = true): { args: string[]; env: NodeJS.ProcessEnv } {
  const web = [
    '--web-push-allow-http',
    'true',
    '--push-poll-ms',
    '200',
    '--vapid-subject',
    'mailto:ops@parley.example',
  ];
  if (!native) return { args: [...web, ...extra], env: {} };
  return {
    args: [
      ...web,
      '--fcm-base-url',
      pushService.url,
      '--apns-base-url',
      apns.url,
      '--apns-key-id',
      apns.keyId,
      '--apns-team-id',
      apns.teamId,
      '--apns-topic',
      apns.topic,
      ...extra,
    ],
    env: { PARLEY_FCM_SERVICE_ACCOUNT: pushService.fcmAccountJson(), PARLEY_APNS_KEY: apns.keyPem },
  };
}

/** A browser subscription of the stand-in, registered for this user's device. */
async function subscribe(u: TestUser): Promise<TestSubscription> {
  const sub = pushService.subscribe();
  const info = await u.http.registerPush({ kind: 'webpush', endpoint: sub.endpoint, keys: sub.keys });
  expect(info).toMatchObject({ kind: 'webpush', deviceId: u.session.device.id });
  return sub;
}

const payloads = (sub: TestSubscription): PushPayload[] =>
  pushService.deliveriesTo(sub).map((d) => d.payload);

async function delivered(sub: TestSubscription, n: number, what: string): Promise<void> {
  await eventually(
    () => pushService.deliveriesTo(sub).length >= n,
    () => `${what}: ${pushService.deliveriesTo(sub).length}/${n} (errors: ${pushService.errors.join('; ')})`,
  );
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.split(' ').pop());
  return sum;
}

describe('push notifications', () => {
  let server: ServerHandle;
  /** Someone offline with a subscription, for sentinel messages. */
  let sentinel: { user: TestUser; sub: TestSubscription; from: TestUser; conversationId: string; n: number };

  beforeAll(async () => {
    server = await startServer(pushConfig());
    const user = await newUser(server.url);
    const from = await newUser(server.url);
    await openToAll(user, from); // strangers: no message requests
    const sub = await subscribe(user);
    const c = await from.http.direct({ userId: user.id });
    sentinel = { user, sub, from, conversationId: c.id, n: 0 };
  });
  afterAll(async () => {
    await server?.stop();
    server?.cleanup();
  });

  /** Store a message to the sentinel and wait for its notification. */
  async function flushed(): Promise<void> {
    sentinel.n++;
    await sentinel.from.http.send(sentinel.conversationId, {
      clientId: `sentinel-${sentinel.n}`,
      text: 'sentinel',
    });
    await delivered(sentinel.sub, sentinel.n, 'sentinel notification');
  }

  it('serves the VAPID public key the notifications are signed with', async () => {
    const { publicKey } = await sentinel.user.http.vapidKey();
    expect(Buffer.from(publicKey, 'base64url')).toHaveLength(65);
    await flushed();
    const [d] = pushService.deliveriesTo(sentinel.sub);
    expect(d?.vapidKey).toBe(publicKey);
    expect(d?.claims).toMatchObject({ aud: pushService.url, sub: 'mailto:ops@parley.example' });
  });

  it('gives an offline member exactly one push per message with its content, and a device in use none', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const cy = await newUser(server.url);
    await openToAll(ana, bob, cy); // strangers: no message requests
    await subscribe(ana); // the sender is never notified of her own messages
    const anaSub = pushService.subscribe();
    await ana.http.registerPush({ kind: 'webpush', endpoint: anaSub.endpoint, keys: anaSub.keys });
    const bobSub = await subscribe(bob);
    // Cy uses the device her subscription is on (connected, in the foreground).
    const cySub = await subscribe(cy);
    const cyOnline = await new Recorder(server.url, cy.session.token).start();
    try {
      const g = await ana.http.createGroup({ name: 'Weekend', members: [bob.username, cy.username] });
      for (let i = 1; i <= 3; i++) await ana.http.send(g.id, { clientId: `g${i}`, text: `plan ${i}` });
      await delivered(bobSub, 3, "bob's notifications");
      await eventually(() => cyOnline.inConversation(g.id).length === 3, 'cy receives the messages live');
      await flushed();
      expect(pushService.errors).toEqual([]);
      const got = payloads(bobSub);
      expect(got).toHaveLength(3);
      // Jobs are sent side by side, so they may arrive in any order; each carries its own count.
      expect(got.map((p) => [p.seq, p.text, p.unread]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
        [1, 'plan 1', 1],
        [2, 'plan 2', 2],
        [3, 'plan 3', 3],
      ]);
      expect(got[0]).toMatchObject({
        type: 'message',
        conversationId: g.id,
        conversationName: 'Weekend',
        kind: 'group',
        senderId: ana.id,
        senderName: ana.username,
      });
      expect(new Set(got.map((p) => p.messageId)).size).toBe(3);
      expect(pushService.deliveriesTo(cySub)).toEqual([]);
      expect(pushService.deliveriesTo(anaSub)).toEqual([]);
      expect(await metric(server.url, 'parley_push_sent_total{kind="webpush"}')).toBeGreaterThanOrEqual(4);
    } finally {
      cyOnline.stop();
    }
  });

  it('sends nothing from a muted conversation, and no text when previews are off', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await openToAll(ana, bob); // strangers: no message requests
    const bobSub = await subscribe(bob);
    const c = await ana.http.direct({ userId: bob.id });

    const muted = await bob.http.mute(c.id, null);
    expect(muted.mutedUntil).toBeNull();
    expect('mutedUntil' in muted).toBe(true);
    const until = Date.now() + 3_600_000;
    expect((await bob.http.mute(c.id, until)).mutedUntil).toBe(until);
    expect((await bob.http.conversations()).conversations.find((x) => x.id === c.id)?.mutedUntil).toBe(until);
    await ana.http.send(c.id, { clientId: 'm1', text: 'while muted' });
    await flushed();
    expect(payloads(bobSub)).toEqual([]);
    const unmuted = await bob.http.unmute(c.id);
    expect('mutedUntil' in unmuted).toBe(false);
    await ana.http.send(c.id, { clientId: 'm2', text: 'after unmute' });
    await delivered(bobSub, 1, 'notification after unmuting');
    expect(payloads(bobSub).map((p) => p.text)).toEqual(['after unmute']);

    expect(await bob.http.settings()).toEqual({ pushPreview: true });
    expect(await bob.http.updateSettings({ pushPreview: false })).toEqual({ pushPreview: false });
    await ana.http.send(c.id, { clientId: 'm3', text: 'the launch code is 0000' });
    await delivered(bobSub, 2, 'notification without preview');
    const hidden = payloads(bobSub)[1];
    expect(hidden?.text).toBeUndefined();
    expect(JSON.stringify(hidden)).not.toContain('launch');
    expect(hidden).toMatchObject({ senderName: ana.username, conversationId: c.id, seq: 3 });

    // Not a member: like an unknown conversation.
    const stranger = await newUser(server.url);
    await expect(stranger.http.mute(c.id, null)).rejects.toMatchObject({ code: 'not_found' });
  });

  /** A raw socket of a device that says whether its app is in the foreground. */
  async function device(token: string, url = server.url) {
    const sock = await RawSocket.open(url, token);
    await sock.until((f) => f.some((x) => x.type === 'ready'));
    let t = 0;
    return {
      sock,
      /** Report the app in the foreground or not, and wait until the server has it. */
      async report(foreground: boolean): Promise<void> {
        const mark = ++t;
        sock.send({ type: 'active', foreground });
        sock.send({ type: 'ping', t: mark });
        await sock.until((f) => f.some((x) => x.type === 'pong' && x.t === mark));
      },
    };
  }

  it('pushes a muted group only for a message that mentions the member', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const cy = await newUser(server.url);
    await openToAll(ana, bob, cy);
    const bobSub = await subscribe(bob);
    const g = await ana.http.createGroup({ name: 'launch', members: [bob.username, cy.username] });
    await bob.http.mute(g.id, null);
    await ana.http.send(g.id, { clientId: 'g1', text: 'nothing for bob here' });
    await ana.http.send(g.id, { clientId: 'g2', text: `@${cy.username} only cy` });
    await flushed();
    expect(payloads(bobSub)).toEqual([]);
    await ana.http.send(g.id, { clientId: 'g3', text: `@${bob.username} are you there?` });
    await delivered(bobSub, 1, 'the mention in the muted group');
    expect(payloads(bobSub).map((p) => p.text)).toEqual([`@${bob.username} are you there?`]);
  });

  it('pushes nothing, not even a mention, from a group muted with its mentions', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const cy = await newUser(server.url);
    await openToAll(ana, bob, cy);
    const bobSub = await subscribe(bob);
    const g = await ana.http.createGroup({ name: 'noisy', members: [bob.username, cy.username] });
    const muted = await bob.http.mute(g.id, null, { mentions: true });
    expect(muted).toMatchObject({ mutedUntil: null, mutedMentions: true });
    expect((await bob.http.conversations()).conversations.find((x) => x.id === g.id)?.mutedMentions).toBe(
      true,
    );
    await ana.http.send(g.id, { clientId: 'n1', text: `@${bob.username} wake up` });
    await flushed();
    expect(payloads(bobSub)).toEqual([]);
    // Muting again without `mentions` lets a mention through again.
    expect('mutedMentions' in (await bob.http.mute(g.id, null))).toBe(false);
    await ana.http.send(g.id, { clientId: 'n2', text: `@${bob.username} now?` });
    await delivered(bobSub, 1, 'the mention once mentions are no longer muted');
    // Unmuting clears the mute of mentions with the mute.
    await bob.http.mute(g.id, null, { mentions: true });
    const unmuted = await bob.http.unmute(g.id);
    expect('mutedUntil' in unmuted || 'mutedMentions' in unmuted).toBe(false);
    expect(payloads(bobSub).map((p) => p.text)).toEqual([`@${bob.username} now?`]);
    await expect(bob.http.mute(g.id, null, { mentions: 'yes' as unknown as boolean })).rejects.toMatchObject({
      code: 'invalid_field',
    });
  });

  it("pushes a member's phone while their laptop is connected in the background, not the laptop in front", async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await openToAll(ana, bob); // strangers: no message requests
    const laptopSub = await subscribe(bob);
    const phoneSub = await subscribe(await newDevice(server.url, bob.username, 'phone'));
    const c = await ana.http.direct({ userId: bob.id });
    const laptop = await device(bob.session.token);
    try {
      // The tab is hidden: both devices are notified.
      await laptop.report(false);
      await ana.http.send(c.id, { clientId: 'b1', text: 'tab hidden' });
      await delivered(phoneSub, 1, 'the phone');
      await delivered(laptopSub, 1, 'the laptop in the background');
      // The tab is shown again: the laptop is in use, the phone in a pocket still hears of it.
      await laptop.report(true);
      await ana.http.send(c.id, { clientId: 'b2', text: 'tab shown' });
      await delivered(phoneSub, 2, 'the phone again');
      await flushed();
      expect(payloads(phoneSub).map((p) => p.text)).toEqual(['tab hidden', 'tab shown']);
      expect(payloads(laptopSub).map((p) => p.text)).toEqual(['tab hidden']);
    } finally {
      laptop.sock.close();
    }
  });

  it('refuses an active frame without a boolean foreground', async () => {
    const bob = await newUser(server.url);
    const laptop = await device(bob.session.token);
    try {
      laptop.sock.send({ type: 'active', foreground: 'yes' });
      const frames = await laptop.sock.until((f) => f.some((x) => x.type === 'error'));
      expect(frames.find((x) => x.type === 'error')).toMatchObject({ code: 'invalid_field' });
      expect(laptop.sock.closeCode).toBeNull();
    } finally {
      laptop.sock.close();
    }
  });

  it('sends nothing for a message request until it is accepted', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const anaSub = await subscribe(ana);
    // Ana keeps the default privacy: Bob, a stranger, lands in her message requests.
    const c = await bob.http.direct({ userId: ana.id });
    await bob.http.send(c.id, { clientId: 'q1', text: 'buy my stuff' });
    await bob.http.send(c.id, { clientId: 'q2', text: 'really' });
    await flushed();
    expect((await ana.http.conversation(c.id)).request).toBe(true);
    expect(payloads(anaSub)).toEqual([]);
    await ana.http.acceptRequest(c.id);
    await bob.http.send(c.id, { clientId: 'q3', text: 'thanks for accepting' });
    await delivered(anaSub, 1, 'the first notification after accepting');
    await flushed();
    expect(payloads(anaSub).map((p) => p.text)).toEqual(['thanks for accepting']);
  });

  it('collapses a burst of 20 into one topic / collapse key on Web Push, FCM and APNs', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await openToAll(ana, bob); // strangers: no message requests
    const bobSub = await subscribe(bob);
    const android = await newDevice(server.url, bob.username, 'Pixel');
    const fcmToken = `fcm_${Date.now()}:APA91b${'x'.repeat(40)}`;
    await android.http.registerPush({ kind: 'fcm', token: fcmToken });
    const iphone = await newDevice(server.url, bob.username, 'iPhone');
    const apnsToken = apns.deviceToken();
    await iphone.http.registerPush({ kind: 'apns', token: apnsToken });
    expect((await bob.http.pushSubscriptions()).subscriptions.map((s) => s.kind).sort()).toEqual([
      'apns',
      'fcm',
      'webpush',
    ]);

    const c = await ana.http.direct({ userId: bob.id });
    const sender = await new Recorder(server.url, ana.session.token).start();
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => sender.client.send(c.id, `burst ${i + 1}`)));
    } finally {
      sender.stop();
    }
    await delivered(bobSub, 20, 'web push burst');
    await eventually(() => pushService.fcm.filter((d) => d.token === fcmToken).length === 20, 'FCM burst');
    await eventually(() => apns.deliveries.filter((d) => d.token === apnsToken).length === 20, 'APNs burst');
    expect(pushService.errors).toEqual([]);
    expect(apns.errors).toEqual([]);

    const web = pushService.deliveriesTo(bobSub);
    const topics = new Set(web.map((d) => d.topic));
    expect(topics.size).toBe(1);
    const [topic] = [...topics];
    expect(topic).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    expect(new Set(web.map((d) => d.payload.tag))).toEqual(new Set([topic]));
    expect(new Set(web.map((d) => d.payload.seq)).size).toBe(20);
    expect(Math.max(...web.map((d) => d.payload.unread))).toBe(20);

    const fcm = pushService.fcm.filter((d) => d.token === fcmToken);
    expect(new Set(fcm.map((d) => d.message.android?.collapse_key))).toEqual(new Set([topic]));
    expect(new Set(fcm.map((d) => d.message.android?.notification?.tag))).toEqual(new Set([topic]));
    const last = fcm.find((d) => d.message.data?.unread === '20');
    expect(last?.message.notification?.body).toMatch(/^20 new messages\n/);
    expect(last?.message.notification?.title).toBe(ana.username);

    const ios = apns.deliveries.filter((d) => d.token === apnsToken);
    expect(new Set(ios.map((d) => d.headers['apns-collapse-id']))).toEqual(new Set([topic]));
    expect(new Set(ios.map((d) => d.headers['apns-topic']))).toEqual(new Set([apns.topic]));
    expect(ios.map((d) => d.body.parley.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  it('retries a 503 after its Retry-After and delivers once; removes a subscription answered 410', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await openToAll(ana, bob); // strangers: no message requests
    const bobSub = await subscribe(bob);
    const c = await ana.http.direct({ userId: bob.id });
    const retriedBefore = await metric(server.url, 'parley_push_retried_total');
    pushService.script(bobSub.id, [{ status: 503, headers: { 'retry-after': '1' } }]);
    await ana.http.send(c.id, { clientId: 'r1', text: 'try again' });
    await delivered(bobSub, 1, 'notification after a 503');
    await flushed();
    expect(payloads(bobSub).map((p) => p.text)).toEqual(['try again']);
    expect(pushService.attempts.filter((a) => a.target === bobSub.id).map((a) => a.status)).toEqual([
      503, 201,
    ]);
    expect(await metric(server.url, 'parley_push_retried_total')).toBeGreaterThan(retriedBefore);

    const carl = await newUser(server.url);
    await openToAll(carl);
    const carlSub = await subscribe(carl);
    const c2 = await ana.http.direct({ userId: carl.id });
    pushService.script(carlSub.id, [{ status: 410 }]);
    await ana.http.send(c2.id, { clientId: 'g1', text: 'gone?' });
    await eventually(
      async () => (await carl.http.pushSubscriptions()).subscriptions.length === 0,
      'the subscription answered 410 is removed',
    );
    await ana.http.send(c2.id, { clientId: 'g2', text: 'still there?' });
    await flushed();
    expect(pushService.attempts.filter((a) => a.target === carlSub.id).map((a) => a.status)).toEqual([410]);
    expect(await metric(server.url, 'parley_push_dropped_total{reason="gone"}')).toBeGreaterThanOrEqual(1);
  });

  it('stops notifying a device once it is revoked or logged out', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await openToAll(ana, bob); // strangers: no message requests
    const laptop = await newDevice(server.url, bob.username, 'laptop');
    const phoneSub = await subscribe(bob);
    const laptopSub = await subscribe(laptop);
    const c = await ana.http.direct({ userId: bob.id });
    await ana.http.send(c.id, { clientId: 'v1', text: 'to both' });
    await delivered(phoneSub, 1, 'phone');
    await delivered(laptopSub, 1, 'laptop');

    await bob.http.revokeDevice(laptop.session.device.id);
    expect((await bob.http.pushSubscriptions()).subscriptions.map((s) => s.deviceId)).toEqual([
      bob.session.device.id,
    ]);
    await ana.http.send(c.id, { clientId: 'v2', text: 'to the phone only' });
    await delivered(phoneSub, 2, 'phone after revoking the laptop');
    await bob.http.logout();
    await ana.http.send(c.id, { clientId: 'v3', text: 'to nobody' });
    await flushed();
    expect(payloads(laptopSub).map((p) => p.text)).toEqual(['to both']);
    expect(payloads(phoneSub).map((p) => p.text)).toEqual(['to both', 'to the phone only']);
  });

  it('refuses bad subscriptions and unknown ids', async () => {
    const u = await newUser(server.url);
    const sub = pushService.subscribe();
    await expect(
      u.http.registerPush({
        kind: 'webpush',
        endpoint: sub.endpoint,
        keys: { p256dh: 'AAAA', auth: sub.keys.auth },
      }),
    ).rejects.toMatchObject({ code: 'invalid_field' });
    await expect(
      u.http.registerPush({ kind: 'webpush', endpoint: 'ftp://push.example/x', keys: sub.keys }),
    ).rejects.toMatchObject({ code: 'invalid_field' });
    await expect(u.http.registerPush({ kind: 'apns', token: 'not hex' })).rejects.toMatchObject({
      code: 'invalid_field',
    });
    await expect(u.http.unregisterPush('ps_nope')).rejects.toMatchObject({ code: 'not_found' });
    // Registering twice answers the same subscription; unsubscribing removes it.
    const a = await u.http.registerPush({ kind: 'webpush', endpoint: sub.endpoint, keys: sub.keys });
    const b = await u.http.registerPush({ kind: 'webpush', endpoint: sub.endpoint, keys: sub.keys });
    expect(b.id).toBe(a.id);
    await u.http.unregisterPush(a.id);
    expect((await u.http.pushSubscriptions()).subscriptions).toEqual([]);
  });

  it('keeps two subscriptions per device: a third replaces the oldest, which is notified no more', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await openToAll(ana, bob); // strangers: no message requests
    const subs: TestSubscription[] = [];
    for (let i = 0; i < 3; i++) subs.push(await subscribe(bob));
    const [oldest, second, newest] = subs as [TestSubscription, TestSubscription, TestSubscription];
    expect((await bob.http.pushSubscriptions()).subscriptions).toHaveLength(2);
    const c = await ana.http.direct({ userId: bob.id });
    await ana.http.send(c.id, { clientId: 'cap-1', text: 'capped' });
    await delivered(second, 1, 'the second subscription');
    await delivered(newest, 1, 'the newest subscription');
    await flushed();
    expect(pushService.deliveriesTo(oldest)).toEqual([]);
  });
});

describe('push notifications across a restart', () => {
  it('delivers each pending notification once after the restart, with the same VAPID key', async () => {
    // FCM and APNs are not configured on this server.
    const cfg = pushConfig([], false);
    const server = await startServer(cfg);
    let again: ServerHandle | undefined;
    try {
      const ana = await newUser(server.url);
      const bob = await newUser(server.url);
      await openToAll(ana, bob); // strangers: no message requests
      await expect(
        bob.http.registerPush({ kind: 'fcm', token: `fcm_${'y'.repeat(40)}` }),
      ).rejects.toMatchObject({
        code: 'push_not_configured',
      });
      const bobSub = await subscribe(bob);
      const { publicKey } = await bob.http.vapidKey();
      const c = await ana.http.direct({ userId: bob.id });
      // The push service is down: every attempt before the restart is answered 503, retry in 3 s.
      pushService.script(
        bobSub.id,
        Array.from({ length: 12 }, () => ({ status: 503, headers: { 'retry-after': '3' } })),
      );
      for (let i = 1; i <= 3; i++) await ana.http.send(c.id, { clientId: `p${i}`, text: `pending ${i}` });
      await eventually(
        () => pushService.attempts.filter((a) => a.target === bobSub.id).length >= 3,
        'first attempts answered 503',
      );
      expect(await server.stop()).toBe(0);
      pushService.unscript(bobSub.id); // the service is back

      // Same port: the clients made before the restart keep working (their sessions are stored).
      again = await startServer({ ...cfg, dataDir: server.dataDir, port: server.port });
      await delivered(bobSub, 3, 'pending notifications after the restart');
      expect((await bob.http.vapidKey()).publicKey).toBe(publicKey);
      // A later message's notification arrives after any stray second copy would have.
      await ana.http.send(c.id, { clientId: 'p4', text: 'after restart' });
      await delivered(bobSub, 4, 'a new notification');
      const got = payloads(bobSub);
      expect(got.map((p) => p.text).sort()).toEqual(['after restart', 'pending 1', 'pending 2', 'pending 3']);
      expect(new Set(got.map((p) => p.messageId)).size).toBe(4);
      expect(pushService.deliveriesTo(bobSub).every((d) => d.vapidKey === publicKey)).toBe(true);
      expect(pushService.errors).toEqual([]);
    } finally {
      await again?.stop();
      await server.stop();
      server.cleanup();
    }
  });
});

describe('push notifications past a hanging push service', () => {
  it("a push service that never answers does not delay another user's notification", async () => {
    const hang = await PushServiceStandIn.start();
    // Eve has 20 subscriptions on one device, all at a push service (another origin) that never answers.
    const server = await startServer(pushConfig(['--push-max-subscriptions-per-device', '20'], false));
    try {
      const ana = await newUser(server.url);
      const eve = await newUser(server.url);
      const bob = await newUser(server.url);
      await openToAll(ana, eve, bob); // strangers: no message requests
      for (let i = 0; i < 20; i++) {
        const sub = hang.subscribe();
        hang.script(sub.id, [{ status: 201, hang: true }]);
        await eve.http.registerPush({ kind: 'webpush', endpoint: sub.endpoint, keys: sub.keys });
      }
      const bobSub = await subscribe(bob);
      const toEve = await ana.http.direct({ userId: eve.id });
      const toBob = await ana.http.direct({ userId: bob.id });
      await ana.http.send(toEve.id, { clientId: 'hang-1', text: 'into the void' });
      await eventually(() => hang.hanging.length > 0, "eve's notifications are being sent");
      await ana.http.send(toBob.id, { clientId: 'hang-2', text: 'hello bob' });
      await delivered(bobSub, 1, "bob's notification");
      // Bob's went out while every one of eve's was still held open (none has timed out)...
      expect(hang.hangsEnded).toBe(0);
      // ...and eve's push service holds only its share of the workers (--push-concurrency-per-origin 8).
      await eventually(
        () => hang.hanging.length === 8,
        () => `${hang.hanging.length} held, want 8`,
      );
      expect(payloads(bobSub).map((p) => p.text)).toEqual(['hello bob']);
    } finally {
      await hang.close();
      await server.stop();
      server.cleanup();
    }
  });
});

describe('push notifications to idle devices (--push-idle-ms)', () => {
  it('notifies a device in the foreground once nobody used it for the idle time', async () => {
    const server = await startServer(pushConfig(['--push-idle-ms', '1000']));
    try {
      const ana = await newUser(server.url);
      const bob = await newUser(server.url);
      await openToAll(ana, bob); // strangers: no message requests
      const phone = await newDevice(server.url, bob.username, 'phone');
      const desktopSub = await subscribe(bob);
      const phoneSub = await subscribe(phone);
      const c = await ana.http.direct({ userId: bob.id });
      // Bob is at his desktop: it was just active, his phone is not connected.
      const desktop = await new Recorder(server.url, bob.session.token).start();
      try {
        await ana.http.send(c.id, { clientId: 'i1', text: 'are you there?' });
        await delivered(phoneSub, 1, 'the idle phone');
        // Once the desktop has been idle for a second, it is notified too.
        await new Promise((r) => setTimeout(r, 1200));
        await ana.http.send(c.id, { clientId: 'i2', text: 'hello?' });
        await delivered(desktopSub, 1, 'the idle desktop');
        await delivered(phoneSub, 2, 'the phone again');
        expect(payloads(desktopSub).map((p) => p.text)).toEqual(['hello?']);
        expect(payloads(phoneSub).map((p) => p.text)).toEqual(['are you there?', 'hello?']);
      } finally {
        desktop.stop();
      }
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
});

const noCluster = await clusterUnavailable();

describe.skipIf(noCluster !== null)('push notifications in a cluster', () => {
  it('sees device use across servers and sends each notification once, whichever server claims it', async () => {
    const cluster = await startCluster({
      chats: 2,
      args: ['--web-push-allow-http', 'true', '--push-poll-ms', '100', '--push-concurrency', '2'],
    });
    const recorders: Recorder[] = [];
    try {
      const ana = await newUser(cluster.api.url);
      const bob = await newUser(cluster.api.url);
      const cy = await newUser(cluster.api.url);
      await openToAll(ana, bob, cy); // strangers: no message requests
      const bobSub = await subscribe(bob);
      const cySub = await subscribe(cy);
      // Cy uses her subscribed device on chat server 2; ana sends through chat server 1.
      const cyOnline = await new Recorder(cluster.api.url, cy.session.token, {
        wsUrl: () => wsOf(cluster.chats[1]!),
      }).start();
      recorders.push(cyOnline);
      const sender = await new Recorder(cluster.api.url, ana.session.token, {
        wsUrl: () => wsOf(cluster.chats[0]!),
      }).start();
      recorders.push(sender);
      const g = await ana.http.createGroup({ name: 'Cluster', members: [bob.username, cy.username] });
      await Promise.all(Array.from({ length: 30 }, (_, i) => sender.client.send(g.id, `c${i}`)));
      await delivered(bobSub, 30, "bob's notifications");
      await eventually(() => cyOnline.inConversation(g.id).length === 30, 'cy has them live');
      // A later message, stored by another server: its notification comes after any stray copy.
      const dm = await ana.http.direct({ userId: bob.id });
      await ana.http.send(dm.id, { clientId: 'late', text: 'last' });
      await delivered(bobSub, 31, 'the last notification');
      const got = payloads(bobSub);
      expect(got).toHaveLength(31);
      expect(new Set(got.map((p) => p.messageId)).size).toBe(31);
      expect(pushService.deliveriesTo(cySub)).toEqual([]);
      expect(pushService.errors).toEqual([]);
      // Cy's laptop, on chat server 2, goes to the background: a message stored by chat server
      // 1 reaches it, not the device she uses.
      const cyLaptop = await newDevice(cluster.api.url, cy.username, 'laptop');
      const laptopSub = await subscribe(cyLaptop);
      const laptop = await RawSocket.open(cluster.chats[1]!.url, cyLaptop.session.token);
      try {
        await laptop.until((f) => f.some((x) => x.type === 'ready'));
        laptop.send({ type: 'active', foreground: false });
        laptop.send({ type: 'ping', t: 1 });
        await laptop.until((f) => f.some((x) => x.type === 'pong'));
        await sender.client.send(g.id, 'to the laptop');
        await delivered(laptopSub, 1, "the laptop's notification");
        expect(payloads(laptopSub).map((p) => p.text)).toEqual(['to the laptop']);
        await ana.http.send(dm.id, { clientId: 'later', text: 'later' });
        await delivered(bobSub, 33, 'the later notification');
        expect(pushService.deliveriesTo(cySub)).toEqual([]);
      } finally {
        laptop.close();
      }
    } finally {
      for (const r of recorders) r.stop();
      await cluster.stop();
    }
  });
});
