/**
 * Device activity, which `--push-idle-sec` reads to notify the idle devices of online members:
 * the same behaviour from the in-process tracker and from Redis (one server's record is seen by
 * another), looped over both like the other adapter suites.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { MemoryPresence, RedisPresence } from '@parley/server';
import type { PresenceTracker } from '@parley/server';
import { REDIS_URL, dropRedisPrefix, redisAvailable, testRedisPrefix } from '../../helpers/services.js';

interface Trackers {
  /** Two trackers as two servers would have (the same one in a single process). */
  a: PresenceTracker;
  b: PresenceTracker;
  close(): Promise<void>;
}

const ADAPTERS: { name: string; unavailable(): Promise<string | null>; open(): Promise<Trackers> }[] = [
  {
    name: 'memory',
    unavailable: async () => null,
    async open() {
      const p = new MemoryPresence(30_000);
      return { a: p, b: p, close: async () => p.close() };
    },
  },
  {
    name: 'redis',
    unavailable: redisAvailable,
    async open() {
      const prefix = testRedisPrefix();
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      const log = pino({ level: 'silent' });
      // A short timeout: activity reaches Redis with the next heartbeat flush.
      const a = new RedisPresence({ redis, prefix, node: 'n1', timeoutMs: 200, log });
      const b = new RedisPresence({ redis, prefix, node: 'n2', timeoutMs: 200, log });
      return {
        a,
        b,
        async close() {
          a.close();
          b.close();
          await dropRedisPrefix(prefix);
          redis.disconnect();
        },
      };
    },
  },
];

for (const adapter of ADAPTERS) {
  describe(`device activity: ${adapter.name}`, () => {
    let t: Trackers | undefined;
    beforeEach(async (ctx) => {
      const skip = await adapter.unavailable();
      if (skip) {
        if (process.env.PARLEY_REQUIRE_SERVICES) throw new Error(`${adapter.name}: ${skip}`);
        console.warn(`skipped: ${adapter.name}: ${skip}`);
        ctx.skip();
        return;
      }
      t = await adapter.open();
    });
    afterEach(async () => {
      await t?.close();
      t = undefined;
    });

    it('knows when each connected device was last used, everywhere, until it leaves', async () => {
      const { a, b } = t as Trackers;
      const before = Date.now();
      a.deviceActive('d1');
      a.deviceActive('d2');
      // The server that recorded it knows at once.
      expect([...(await a.deviceActivity(['d1', 'd2', 'd3'])).keys()]).toEqual(['d1', 'd2']);
      let seen = new Map<string, number>();
      const deadline = Date.now() + 5000;
      while (seen.size < 2 && Date.now() < deadline) {
        seen = await b.deviceActivity(['d1', 'd2', 'd3']);
        if (seen.size < 2) await new Promise((r) => setTimeout(r, 20));
      }
      expect([...seen.keys()].sort()).toEqual(['d1', 'd2']);
      expect(seen.get('d1')).toBeGreaterThanOrEqual(before);
      a.deviceGone('d1');
      let left: string[] = [];
      for (const end = Date.now() + 5000; Date.now() < end;) {
        left = [...(await b.deviceActivity(['d1', 'd2'])).keys()];
        if (left.length === 1) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(left).toEqual(['d2']);
    });
  });
}
