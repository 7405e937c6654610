/**
 * What the Redis presence tracker writes, seen from Redis itself: a user who keeps talking
 * costs one heartbeat write per `beatEveryMs` (not one per flush), the latest beat of the
 * interval still arrives, and states come back for any number of users in two commands.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { RedisPresence } from '@parley/server';
import { REDIS_URL, dropRedisPrefix, redisAvailable, testRedisPrefix } from '../../helpers/services.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Redis presence', () => {
  let redis: Redis | undefined;
  let prefix = '';
  let tracker: RedisPresence | undefined;
  beforeEach(async (ctx) => {
    const skip = await redisAvailable();
    if (skip) {
      if (process.env.PARLEY_REQUIRE_SERVICES) throw new Error(skip);
      console.warn(`skipped: ${skip}`);
      ctx.skip();
      return;
    }
    prefix = testRedisPrefix();
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    tracker?.close();
    tracker = undefined;
    if (redis) {
      await dropRedisPrefix(prefix);
      redis.disconnect();
      redis = undefined;
    }
  });

  const alive = async (userId: string) => Number(await redis?.zscore(`${prefix}pres:alive`, userId));
  /** A tracker on the test's Redis and prefix, closed after the test. */
  const track = (o: { timeoutMs?: number; beatEveryMs?: number } = {}): RedisPresence =>
    (tracker = new RedisPresence({
      redis: redis as Redis,
      prefix,
      node: 'n1',
      log: pino({ level: 'silent' }),
      ...o,
    }));

  it('writes a busy user’s heartbeats once per interval, the latest one last', async () => {
    const r = redis as Redis;
    // Flushes every 500 ms (a quarter of the timeout); a user's beats at most every 1000 ms.
    tracker = track({ timeoutMs: 3000, beatEveryMs: 1000 });
    tracker.connected('u1', 'c1');
    let connectedAt = 0;
    for (let i = 0; i < 100 && !connectedAt; i++) {
      connectedAt = await alive('u1');
      if (!connectedAt) await sleep(10);
    }
    expect(connectedAt).toBeGreaterThan(0);
    // Beats for the next 600 ms: none of them is written (the interval since the connection
    // has not passed), however many flushes go by.
    let last = 0;
    while (Date.now() - connectedAt < 600) {
      tracker.heartbeat('u1');
      last = Date.now();
      await sleep(20);
    }
    expect(await alive('u1')).toBe(connectedAt);
    // Silent from now on: the last beat reaches Redis once the interval is over.
    let seen = connectedAt;
    const deadline = Date.now() + 3000;
    while (seen === connectedAt && Date.now() < deadline) {
      await sleep(50);
      seen = await alive('u1');
    }
    expect(seen).toBeGreaterThanOrEqual(last);
    expect(seen).toBeGreaterThanOrEqual(connectedAt + 500);
    expect(await r.zscore(`${prefix}pres:last`, 'u1')).toBe(String(seen));
  });

  it('records the first connections of a turn together: each user online once, none gone before', async () => {
    const r = redis as Redis;
    tracker = track({ timeoutMs: 3000 });
    const online: string[] = [];
    tracker.onChange((userId, state) => {
      if (state.online) online.push(userId);
    });
    for (const u of ['a', 'b', 'c']) tracker.connected(u, `c-${u}`);
    tracker.connected('a', 'c-a2'); // a second device of a
    tracker.connected('d', 'c-d');
    tracker.disconnected('d', 'c-d', true); // gone before the batch left
    for (let i = 0; i < 100 && online.length < 3; i++) await sleep(10);
    await sleep(100);
    expect([...online].sort()).toEqual(['a', 'b', 'c']);
    expect((await r.smembers(`${prefix}pres:online`)).sort()).toEqual(['a', 'b', 'c']);
    expect(await r.zscore(`${prefix}pres:alive`, 'd')).toBeNull();
  });

  it('takes every silent user offline in one sweep, once each, and keeps a talking one', async () => {
    const r = redis as Redis;
    tracker = track({ timeoutMs: 600 });
    const offline: string[] = [];
    tracker.onChange((userId, state) => {
      if (!state.online) offline.push(userId);
    });
    const silent = Array.from({ length: 50 }, (_, i) => `s${i}`);
    for (const u of [...silent, 'talker']) tracker.connected(u, `c-${u}`);
    for (let i = 0; i < 100 && (await r.scard(`${prefix}pres:online`)) < silent.length + 1; i++)
      await sleep(10);
    // Dropped without a goodbye: online until the timeout passes.
    for (const u of silent) tracker.disconnected(u, `c-${u}`, false);
    const deadline = Date.now() + 5000;
    while (offline.length < silent.length && Date.now() < deadline) {
      tracker.heartbeat('talker');
      await sleep(50);
    }
    await sleep(300); // a few more sweeps: nobody is taken offline twice
    expect([...offline].sort()).toEqual([...silent].sort());
    expect(await r.smembers(`${prefix}pres:online`)).toEqual(['talker']);
    expect(await r.zrange(`${prefix}pres:alive`, '0', '-1')).toEqual(['talker']);
  });

  it('answers the state of many users, known or not', async () => {
    const r = redis as Redis;
    tracker = track();
    tracker.connected('u1', 'c1');
    await r.zadd(`${prefix}pres:last`, 1234, 'u2'); // seen before, offline now
    let states = await tracker.states(['u1', 'u2', 'u3']);
    for (let i = 0; i < 100 && !states.get('u1')?.online; i++) {
      await sleep(10);
      states = await tracker.states(['u1', 'u2', 'u3']);
    }
    expect(states.get('u1')?.online).toBe(true);
    expect(states.get('u1')?.lastActiveAt).toBeGreaterThan(0);
    expect(states.get('u2')).toEqual({ online: false, lastActiveAt: 1234 });
    expect(states.has('u3')).toBe(false);
    const many = Array.from({ length: 2000 }, (_, i) => `x${i}`);
    expect((await tracker.states(['u1', ...many])).size).toBe(1);
  });

  it('answers nobody known while Redis is unreachable, instead of failing', async () => {
    // A port nothing listens on (one just freed), commands failing at once as in a chat
    // server whose Redis is restarting.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const down = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    down.on('error', () => {});
    const t = new RedisPresence({ redis: down, prefix, node: 'n1', log: pino({ level: 'silent' }) });
    try {
      expect((await t.states(['u1', 'u2'])).size).toBe(0);
    } finally {
      t.close();
      down.disconnect();
    }
  });
});
