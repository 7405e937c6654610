/** Per-username login back-off (memory and Redis) and the queue in front of scrypt. */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { ParleyError } from '@parley/protocol';
import { MemoryBus, SqliteStore } from '@parley/server';
import { AuthService } from '../../../packages/server/src/auth/auth-service.js';
import {
  MemoryLoginThrottle,
  RedisLoginThrottle,
  backoffMs,
} from '../../../packages/server/src/auth/login-throttle.js';
import type {
  LoginThrottle,
  LoginThrottleOptions,
} from '../../../packages/server/src/auth/login-throttle.js';
import { WorkQueue } from '../../../packages/server/src/auth/passwords.js';
import type { PasswordHasher } from '../../../packages/server/src/auth/passwords.js';
import { REDIS_URL, dropRedisPrefix, redisAvailable, testRedisPrefix } from '../../helpers/services.js';

const opts: LoginThrottleOptions = { freeFailures: 3, baseMs: 10_000, maxMs: 60_000, resetMs: 3_600_000 };

describe('backoffMs', () => {
  it('is free for the first failures, then doubles up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 50].map((n) => backoffMs(n, opts))).toEqual([
      0, 0, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000, 60_000,
    ]);
  });
});

const redisPrefix = testRedisPrefix();
const clients: Redis[] = [];
afterAll(async () => {
  for (const r of clients) r.disconnect();
  if (!(await redisAvailable())) await dropRedisPrefix(redisPrefix);
});

const adapters: { name: string; make: () => Promise<LoginThrottle | string> }[] = [
  { name: 'memory', make: async () => new MemoryLoginThrottle(opts) },
  {
    name: 'redis',
    make: async () => {
      const why = await redisAvailable();
      if (why) return why;
      const redis = new Redis(REDIS_URL);
      clients.push(redis);
      return new RedisLoginThrottle(redis, redisPrefix, pino({ level: 'silent' }), opts);
    },
  },
];

for (const adapter of adapters) {
  describe(`${adapter.name} login throttle`, () => {
    it('makes one username wait after repeated failures, and a success forgets them', async (ctx) => {
      const t = await adapter.make();
      if (typeof t === 'string') {
        if (process.env.PARLEY_REQUIRE_SERVICES) throw new Error(t);
        console.warn(`skipped: ${t}`);
        return ctx.skip();
      }
      const name = `victim-${adapter.name}`;
      const go = (backoffMs: number) => ({ waitMs: 0, backoffMs });
      // Each attempt is counted when it is let through: the third starts a 10 s wait.
      expect(await t.attempt(name)).toEqual(go(0));
      expect(await t.attempt(name)).toEqual(go(0));
      expect(await t.attempt(name)).toEqual(go(10_000));
      const held = await t.attempt(name);
      expect(held.waitMs).toBeGreaterThan(0);
      expect(held.waitMs).toBeLessThanOrEqual(10_000);
      // Another username is not affected.
      expect(await t.attempt(`other-${adapter.name}`)).toEqual(go(0));
      await t.succeeded(name);
      expect(await t.attempt(name)).toEqual(go(0));
    });
  });
}

describe('memory login throttle', () => {
  it('forgets failures older than resetMs, and doubles the wait once it passed', async () => {
    let now = 0;
    const t = new MemoryLoginThrottle({ ...opts, resetMs: 100_000 }, () => now);
    await t.attempt('a');
    await t.attempt('a');
    expect(await t.attempt('a')).toEqual({ waitMs: 0, backoffMs: 10_000 });
    now = 10_000;
    expect(await t.attempt('a')).toEqual({ waitMs: 0, backoffMs: 20_000 });
    now = 200_000;
    expect(await t.attempt('a')).toEqual({ waitMs: 0, backoffMs: 0 });
  });

  it('remembers at most max usernames', async () => {
    const t = new MemoryLoginThrottle({ ...opts, freeFailures: 1 }, Date.now, 2);
    await t.attempt('a');
    await t.attempt('b');
    await t.attempt('c');
    expect((await t.attempt('a')).waitMs).toBe(0);
    expect((await t.attempt('c')).waitMs).toBeGreaterThan(0);
  });
});

describe('WorkQueue', () => {
  it('runs at most `limit` tasks at once, the rest in arrival order', async () => {
    const q = new WorkQueue(2);
    const release: (() => void)[] = [];
    const started: number[] = [];
    let peak = 0;
    const tasks = [0, 1, 2, 3, 4].map((i) =>
      q.run(async () => {
        started.push(i);
        peak = Math.max(peak, q.active);
        await new Promise<void>((resolve) => release.push(resolve));
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(q.queued).toBe(3);
    for (let k = 0; k < 5; k++) {
      await expect.poll(() => release.length).toBeGreaterThan(k);
      release[k]?.();
    }
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
    expect(q.active).toBe(0);
  });

  it('frees the slot when a task fails', async () => {
    const q = new WorkQueue(1);
    await expect(q.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await q.run(async () => 'next')).toBe('next');
    expect(q.active).toBe(0);
  });
});

describe('AuthService with the throttle', () => {
  it('lets no more than the free failures through when guesses arrive at once', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    try {
      // A hasher slow enough that every guess is checked before the first one is hashed.
      const slow: PasswordHasher = {
        hash: async (p) => `plain$${p}`,
        verify: async (p, stored) => {
          await new Promise((r) => setTimeout(r, 50));
          return stored === `plain$${p}`;
        },
      };
      const throttle = new MemoryLoginThrottle({ ...opts, freeFailures: 5 });
      const auth = new AuthService(store.accounts, slow, new MemoryBus(), undefined, { throttle });
      await auth.signup('target', 'the right one');
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          auth.login('target', `guess ${i}`).then(
            () => 'ok',
            (e: ParleyError) => e.code,
          ),
        ),
      );
      const count = (code: string) => answers.filter((a) => a === code).length;
      console.log(
        `20 concurrent guesses: ${count('invalid_credentials')} hashed, ${count('rate_limited')} held`,
      );
      expect(count('invalid_credentials')).toBe(5);
      expect(count('rate_limited')).toBe(15);
    } finally {
      await store.close();
    }
  });
});
