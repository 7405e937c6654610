/**
 * Device activity, which push notifications read to leave out devices in active use: the same
 * behaviour from the in-process tracker and from Redis (one server's record is seen by
 * another), looped over both like the other adapter suites.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { MemoryPresence, RedisPresence } from '@parley/server';
import type { DeviceUse, PresenceTracker } from '@parley/server';
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

    /** What `b` knows of some devices, once it knows what `done` wants (Redis writes are batched). */
    async function seenBy(
      tracker: PresenceTracker,
      ids: string[],
      done: (m: Map<string, DeviceUse>) => boolean,
    ): Promise<Map<string, DeviceUse>> {
      let seen = new Map<string, DeviceUse>();
      for (const end = Date.now() + 5000; Date.now() < end;) {
        seen = await tracker.deviceActivity(ids);
        if (done(seen)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      return seen;
    }

    it('knows when each connected device was last used, everywhere, until it leaves', async () => {
      const { a, b } = t as Trackers;
      const before = Date.now();
      a.deviceConnected('d1', 'c1');
      a.deviceConnected('d2', 'c2');
      a.deviceActive('d2');
      // The server that recorded it knows at once.
      expect([...(await a.deviceActivity(['d1', 'd2', 'd3'])).keys()]).toEqual(['d1', 'd2']);
      const seen = await seenBy(b, ['d1', 'd2', 'd3'], (m) => m.size === 2);
      expect([...seen.keys()].sort()).toEqual(['d1', 'd2']);
      expect(seen.get('d1')?.activeAt).toBeGreaterThanOrEqual(before);
      expect(seen.get('d1')?.foreground).toBe(true);
      a.deviceDisconnected('d1', 'c1');
      const left = await seenBy(b, ['d1', 'd2'], (m) => m.size === 1);
      expect([...left.keys()]).toEqual(['d2']);
    });

    it('knows whether a device has its app in the foreground: any of its connections', async () => {
      const { a, b } = t as Trackers;
      a.deviceConnected('d1', 'c1');
      a.deviceConnected('d1', 'c2');
      a.deviceForeground('d1', 'c1', false);
      // The other connection never said: it counts as in the foreground.
      expect((await a.deviceActivity(['d1'])).get('d1')?.foreground).toBe(true);
      a.deviceForeground('d1', 'c2', false);
      expect((await a.deviceActivity(['d1'])).get('d1')?.foreground).toBe(false);
      const hidden = await seenBy(b, ['d1'], (m) => m.get('d1')?.foreground === false);
      expect(hidden.get('d1')?.foreground).toBe(false);
      // Back in front; then the connection in front closes and the one behind remains.
      a.deviceForeground('d1', 'c1', true);
      const shown = await seenBy(b, ['d1'], (m) => m.get('d1')?.foreground === true);
      expect(shown.get('d1')?.foreground).toBe(true);
      a.deviceDisconnected('d1', 'c1');
      const behind = await seenBy(b, ['d1'], (m) => m.get('d1')?.foreground === false);
      expect(behind.get('d1')?.foreground).toBe(false);
      // A connection it does not know changes nothing.
      a.deviceForeground('d1', 'c9', true);
      expect((await a.deviceActivity(['d1'])).get('d1')?.foreground).toBe(false);
    });
  });
}
