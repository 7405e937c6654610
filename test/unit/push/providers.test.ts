/**
 * Each provider against its local stand-in: Web Push with real RFC 8291 encryption and
 * VAPID, FCM HTTP v1 with the OAuth2 service-account exchange, APNs over HTTP/2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import webpush from 'web-push';
import {
  ApnsProvider,
  FcmProvider,
  WebPushProvider,
  buildPayload,
  loadServiceAccount,
  toPushMessage,
} from '@parley/server';
import type { PushSubscriptionRow } from '@parley/server';
import { ApnsStandIn, PushServiceStandIn } from '../../helpers/push-service.js';

const message = toPushMessage(
  buildPayload({
    conversationId: 'c_1',
    conversationName: 'Ana',
    kind: 'direct',
    messageId: 'm1',
    seq: 1,
    senderId: 'u_ana',
    senderName: 'Ana',
    text: 'hello 👋',
    createdAt: 1,
    unread: 1,
    showText: true,
  }),
  600,
);

function row(kind: PushSubscriptionRow['kind'], address: string, keys?: { p256dh: string; auth: string }) {
  return {
    id: 'ps_1',
    userId: 'u_bob',
    deviceId: 'd_1',
    kind,
    address,
    p256dh: keys?.p256dh ?? null,
    auth: keys?.auth ?? null,
    createdAt: 0,
  } satisfies PushSubscriptionRow;
}

describe('push providers', () => {
  let service: PushServiceStandIn;
  let apns: ApnsStandIn;
  beforeAll(async () => {
    service = await PushServiceStandIn.start();
    apns = await ApnsStandIn.start();
  });
  afterAll(async () => {
    await service.close();
    await apns.close();
  });

  it('Web Push: encrypted payload, VAPID, Topic, TTL and urgency', async () => {
    const keys = { ...webpush.generateVAPIDKeys(), subject: 'mailto:ops@example.com' };
    const provider = new WebPushProvider(keys, { allowPrivate: true });
    const sub = service.subscribe();
    expect(await provider.send(row('webpush', sub.endpoint, sub.keys), message)).toEqual({ outcome: 'sent' });
    expect(service.errors).toEqual([]);
    const [d] = service.deliveriesTo(sub);
    expect(d?.payload).toEqual(message.payload);
    expect(d?.topic).toBe(message.collapseKey);
    expect(d?.ttl).toBe('600');
    expect(d?.urgency).toBe('high');
    expect(d?.vapidKey).toBe(keys.publicKey);
    expect(d?.claims.sub).toBe('mailto:ops@example.com');

    service.script(sub.id, [
      { status: 503, headers: { 'retry-after': '7' } },
      { status: 410 },
      { status: 400 },
    ]);
    const s = row('webpush', sub.endpoint, sub.keys);
    expect(await provider.send(s, message)).toMatchObject({ outcome: 'retry', retryAfterMs: 7000 });
    expect(await provider.send(s, message)).toMatchObject({ outcome: 'gone' });
    expect(await provider.send(s, message)).toMatchObject({ outcome: 'rejected' });
    expect(service.deliveriesTo(sub)).toHaveLength(1);
  });

  it('FCM: one OAuth2 token for many sends, data as strings, collapse key', async () => {
    const provider = new FcmProvider({
      account: loadServiceAccount(service.fcmAccountJson()),
      baseUrl: service.url,
    });
    const token = 'fcm-token-aaaaaaaaaaaaaaaaaaaaaaaa:bbbb';
    expect(await provider.send(row('fcm', token), message)).toEqual({ outcome: 'sent' });
    expect(await provider.send(row('fcm', token), message)).toEqual({ outcome: 'sent' });
    expect(service.errors).toEqual([]);
    const [d] = service.fcm.filter((x) => x.token === token);
    expect(d?.message.android?.collapse_key).toBe(message.collapseKey);
    expect(d?.message.apns?.headers?.['apns-collapse-id']).toBe(message.collapseKey);
    expect(d?.message.notification).toEqual({ title: 'Ana', body: 'hello 👋' });
    expect(d?.message.data?.conversationId).toBe('c_1');
    expect(d?.message.data?.seq).toBe('1');

    service.script(token, [
      { status: 429, headers: { 'retry-after': '2' } },
      { status: 404, body: '{"error":{"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}' },
    ]);
    expect(await provider.send(row('fcm', token), message)).toMatchObject({
      outcome: 'retry',
      retryAfterMs: 2000,
    });
    expect(await provider.send(row('fcm', token), message)).toMatchObject({ outcome: 'gone' });
  });

  it('APNs: HTTP/2, ES256 provider token, topic, push type and collapse id', async () => {
    const provider = new ApnsProvider({
      key: apns.keyPem,
      keyId: apns.keyId,
      teamId: apns.teamId,
      topic: apns.topic,
      baseUrl: apns.url,
    });
    try {
      const token = apns.deviceToken();
      expect(await provider.send(row('apns', token), message)).toEqual({ outcome: 'sent' });
      expect(apns.errors).toEqual([]);
      const [d] = apns.deliveries;
      expect(d?.headers['apns-collapse-id']).toBe(message.collapseKey);
      expect(d?.headers['apns-priority']).toBe('10');
      expect(d?.body.aps.alert).toEqual({ title: 'Ana', body: 'hello 👋' });
      expect(d?.body.parley).toEqual(message.payload);

      apns.script(token, [
        { status: 503, headers: { 'retry-after': '1' }, body: '{"reason":"ServiceUnavailable"}' },
        { status: 410, body: '{"reason":"Unregistered"}' },
      ]);
      expect(await provider.send(row('apns', token), message)).toMatchObject({
        outcome: 'retry',
        retryAfterMs: 1000,
      });
      expect(await provider.send(row('apns', token), message)).toMatchObject({ outcome: 'gone' });
    } finally {
      await provider.close();
    }
  });
});
