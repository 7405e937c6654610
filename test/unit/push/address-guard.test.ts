/**
 * Outbound push connections go only to public addresses, whatever the endpoint's name
 * resolves to when the connection is made (a name may pass registration and resolve to a
 * private address later). The resolver is injected; every connection here is to loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import webpush from 'web-push';
import { WebPushProvider, buildPayload, toPushMessage } from '@parley/server';
import {
  BlockedAddressError,
  guardedLookup,
  isPublicAddress,
} from '../../../packages/server/src/net/address-guard.js';
import type { LookupFunction } from '../../../packages/server/src/net/address-guard.js';
import { OutboundClient } from '../../../packages/server/src/push/outbound.js';
import { PushServiceStandIn } from '../../helpers/push-service.js';

/** A resolver with fixed answers, counting its questions. */
function resolver(answers: Record<string, string[]>): LookupFunction & { asked: string[] } {
  const asked: string[] = [];
  const fn: LookupFunction = (hostname, _options, callback) => {
    asked.push(hostname);
    const list = answers[hostname];
    if (!list) return callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
    callback(
      null,
      list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  };
  return Object.assign(fn, { asked });
}

function lookupOnce(
  lookup: LookupFunction,
  host: string,
  all: boolean,
): Promise<{ err: Error | null; result: unknown }> {
  return new Promise((resolve) =>
    lookup(host, all ? { all: true } : {}, (err, address, family) =>
      resolve({ err, result: all ? address : { address, family } }),
    ),
  );
}

describe('isPublicAddress', () => {
  it('accepts global unicast addresses', () => {
    for (const ip of ['93.184.216.34', '8.8.8.8', '2a00:1450:4001:82b::200a', '2606:4700::1111']) {
      expect(isPublicAddress(ip), ip).toBe(true);
    }
  });

  it('refuses loopback, private, link-local, CGNAT, ULA, multicast, reserved and their IPv6 wrappers', () => {
    for (const ip of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '198.18.0.1',
      '224.0.0.1',
      '239.255.255.250',
      '240.0.0.1',
      '255.255.255.255',
      '192.0.2.1',
      '::',
      '::1',
      'fe80::1',
      'fd00::1',
      'fc00::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '::127.0.0.1',
      '64:ff9b::a9fe:a9fe',
      '64:ff9b::7f00:1',
      '2002:7f00:1::',
      '2002:c0a8:101::1',
      '2001::1',
      '2001:db8::1',
      'not an address',
    ]) {
      expect(isPublicAddress(ip), ip).toBe(false);
    }
  });

  it('judges an IPv4-mapped address by the IPv4 address it maps', () => {
    expect(isPublicAddress('::ffff:93.184.216.34')).toBe(true);
    expect(isPublicAddress('::ffff:10.1.2.3')).toBe(false);
  });
});

describe('guardedLookup', () => {
  it('refuses a name when any of its addresses is not public, in both answer shapes', async () => {
    const lookup = guardedLookup(
      resolver({
        'push.attacker.test': ['127.0.0.1'],
        'mixed.example.com': ['93.184.216.34', '10.0.0.7'],
        'v6.example.com': ['64:ff9b::a9fe:a9fe'],
      }),
    );
    for (const host of ['push.attacker.test', 'mixed.example.com', 'v6.example.com']) {
      for (const all of [true, false]) {
        const { err } = await lookupOnce(lookup, host, all);
        expect(err, `${host} all=${String(all)}`).toBeInstanceOf(BlockedAddressError);
      }
    }
  });

  it('passes public answers through, one or all', async () => {
    const lookup = guardedLookup(resolver({ 'push.example.com': ['93.184.216.34', '2606:4700::1111'] }));
    expect(await lookupOnce(lookup, 'push.example.com', false)).toEqual({
      err: null,
      result: { address: '93.184.216.34', family: 4 },
    });
    expect((await lookupOnce(lookup, 'push.example.com', true)).result).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:4700::1111', family: 6 },
    ]);
  });

  it('passes resolver errors on', async () => {
    const { err } = await lookupOnce(guardedLookup(resolver({})), 'nowhere.example.com', true);
    expect(err?.message).toMatch(/ENOTFOUND/);
  });
});

describe('connections are checked when they are made', () => {
  let server: Server;
  let port: number;
  let requests = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      requests++;
      res.writeHead(201).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('a public-looking name that resolves to loopback is refused at connect time, and nothing is sent', async () => {
    const lookup = resolver({ 'push.attacker.test': ['127.0.0.1'] });
    const client = new OutboundClient({ guard: true, lookup });
    try {
      const before = requests;
      await expect(
        client.request(`http://push.attacker.test:${port}/x`, { method: 'POST', headers: {}, body: 'x' }),
      ).rejects.toBeInstanceOf(BlockedAddressError);
      expect(lookup.asked).toEqual(['push.attacker.test']);
      expect(requests).toBe(before);
    } finally {
      client.close();
    }
  });

  it('every connection asks again: a name that turns private later (DNS rebinding) is refused then', async () => {
    const answers: Record<string, string[]> = { 'rebind.example.com': ['127.0.0.1'] };
    const lookup = resolver(answers);
    const client = new OutboundClient({ guard: true, lookup });
    try {
      for (let i = 0; i < 2; i++) {
        await expect(
          client.request(`http://rebind.example.com:${port}/x`, { method: 'POST', headers: {} }),
        ).rejects.toBeInstanceOf(BlockedAddressError);
      }
      expect(lookup.asked).toEqual(['rebind.example.com', 'rebind.example.com']);
    } finally {
      client.close();
    }
  });

  it('IP literals, which need no lookup, are checked too', async () => {
    const client = new OutboundClient({ guard: true, lookup: resolver({}) });
    try {
      const before = requests;
      for (const host of ['127.0.0.1', '[::ffff:127.0.0.1]', '[::1]']) {
        await expect(
          client.request(`http://${host}:${port}/x`, { method: 'POST', headers: {} }),
          host,
        ).rejects.toBeInstanceOf(BlockedAddressError);
      }
      expect(requests).toBe(before);
    } finally {
      client.close();
    }
  });

  it('without the guard (tests, local push services) loopback is reached', async () => {
    const client = new OutboundClient({ lookup: resolver({}) });
    try {
      const res = await client.request(`http://127.0.0.1:${port}/x`, { method: 'POST', headers: {} });
      expect(res.status).toBe(201);
    } finally {
      client.close();
    }
  });
});

describe('Web Push refuses an endpoint that resolves to a private address', () => {
  let service: PushServiceStandIn;
  beforeAll(async () => {
    service = await PushServiceStandIn.start();
  });
  afterAll(async () => {
    await service.close();
  });

  it('drops the notification as rejected and never reaches the endpoint', async () => {
    const keys = { ...webpush.generateVAPIDKeys(), subject: 'mailto:ops@example.com' };
    const provider = new WebPushProvider(keys, { lookup: resolver({ 'push.attacker.test': ['127.0.0.1'] }) });
    try {
      const sub = service.subscribe();
      const endpoint = sub.endpoint.replace('127.0.0.1', 'push.attacker.test');
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
      const result = await provider.send(
        {
          id: 'ps_1',
          userId: 'u_bob',
          deviceId: 'd_1',
          kind: 'webpush',
          address: endpoint,
          p256dh: sub.keys.p256dh,
          auth: sub.keys.auth,
          createdAt: 0,
        },
        message,
      );
      expect(result).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(/127\.0\.0\.1/) });
      expect(service.attempts).toEqual([]);
    } finally {
      await provider.close();
    }
  });
});
