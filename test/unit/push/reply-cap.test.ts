/**
 * A push service's reply is read up to a few KB, never inflated: a huge body or a gzip bomb
 * from an endpoint any user may register must not grow the server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import webpush from 'web-push';
import {
  FcmProvider,
  WebPushProvider,
  buildPayload,
  loadServiceAccount,
  toPushMessage,
} from '@parley/server';
import type { PushSubscriptionRow } from '@parley/server';
import { OutboundClient } from '../../../packages/server/src/push/outbound.js';
import { PushServiceStandIn } from '../../helpers/push-service.js';

const MiB = 1024 * 1024;

const message = toPushMessage(
  buildPayload({
    conversationId: 'c_1',
    conversationName: 'Ana',
    kind: 'direct',
    messageId: 'm1',
    seq: 1,
    senderId: 'u_ana',
    senderName: 'Ana',
    text: 'hello',
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

describe('OutboundClient reads a reply with a byte cap', () => {
  let server: Server;
  let url: string;
  /** Per request: whether the whole body got out before the client left. */
  const sent: boolean[] = [];
  const encodings: (string | undefined)[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      encodings.push(req.headers['accept-encoding']);
      if (req.url === '/bomb') {
        // 64 MiB of zeros in about 64 KB.
        res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(64 * MiB)));
        return;
      }
      const total = 64 * MiB;
      res.writeHead(200, { 'content-length': String(total) });
      const chunk = Buffer.alloc(64 * 1024);
      let left = total;
      const pump = () => {
        while (left > 0) {
          left -= chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => sent.push(left <= 0 && res.writableFinished));
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('keeps at most maxBodyBytes of a 64 MiB body and closes the connection', async () => {
    const client = new OutboundClient({ maxBodyBytes: 4096 });
    try {
      const res = await client.request(`${url}/huge`, { method: 'POST', headers: {}, body: 'x' });
      expect(res.status).toBe(200);
      expect(res.truncated).toBe(true);
      expect(res.body.length).toBe(4096);
      await expect.poll(() => sent.length).toBe(1);
      expect(sent).toEqual([false]);
      expect(encodings.at(-1)).toBe('identity');
    } finally {
      client.close();
    }
  });

  it('does not inflate a gzip bomb: the bytes kept are the compressed ones', async () => {
    const client = new OutboundClient({ maxBodyBytes: 4096 });
    try {
      const res = await client.request(`${url}/bomb`, { method: 'POST', headers: {} });
      expect(res.truncated).toBe(true);
      expect(res.body.length).toBe(4096);
      // Still gzip: the magic bytes of RFC 1952.
      expect([res.body[0], res.body[1]]).toEqual([0x1f, 0x8b]);
      expect(encodings.at(-1)).toBe('identity');
    } finally {
      client.close();
    }
  });
});

describe('push providers read a reply with a byte cap', () => {
  let service: PushServiceStandIn;
  beforeAll(async () => {
    service = await PushServiceStandIn.start();
  });
  afterAll(async () => {
    await service.close();
  });

  it('Web Push: a 201 with a 64 MiB body is sent, the body cut off; a gzip bomb 503 is a retry', async () => {
    const keys = { ...webpush.generateVAPIDKeys(), subject: 'mailto:ops@example.com' };
    const provider = new WebPushProvider(keys, { allowPrivate: true });
    try {
      const sub = service.subscribe();
      service.script(sub.id, [
        { status: 201, bodyBytes: 64 * MiB },
        { status: 503, gzipBytes: 64 * MiB },
      ]);
      const s = row('webpush', sub.endpoint, sub.keys);
      expect(await provider.send(s, message)).toEqual({ outcome: 'sent' });
      await expect.poll(() => service.cutBodies).toBe(1);
      expect(await provider.send(s, message)).toMatchObject({ outcome: 'retry' });
      expect(service.attempts.filter((a) => a.target === sub.id).map((a) => a.acceptEncoding)).toEqual([
        'identity',
        'identity',
      ]);
    } finally {
      await provider.close();
    }
  });

  it('FCM: a 64 MiB error body is cut off and the answer still read by its status', async () => {
    const provider = new FcmProvider({
      account: loadServiceAccount(service.fcmAccountJson()),
      baseUrl: service.url,
    });
    try {
      const token = 'fcm-token-cccccccccccccccccccccccc:dddd';
      const before = service.cutBodies;
      service.script(token, [{ status: 404, bodyBytes: 64 * MiB }]);
      expect(await provider.send(row('fcm', token), message)).toMatchObject({ outcome: 'gone' });
      await expect.poll(() => service.cutBodies).toBe(before + 1);
      expect(service.attempts.find((a) => a.target === token)?.acceptEncoding).toBe('identity');
    } finally {
      await provider.close();
    }
  });
});
