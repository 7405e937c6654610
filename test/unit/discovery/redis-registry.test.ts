/**
 * The Redis registry, seen from Redis itself: a chat server that stops beating leaves
 * discovery once its key expires (Redis's clock), and `remove` takes it out at once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { RedisRegistry } from '../../../packages/server/src/discovery/registry.js';
import type { ChatServerInfo } from '../../../packages/server/src/discovery/registry.js';
import { REDIS_URL, dropRedisPrefix, redisAvailable, testRedisPrefix } from '../../helpers/services.js';

const info = (id: string, load = 0): ChatServerInfo => ({
  id,
  url: `ws://${id}/v1/ws`,
  region: 'default',
  load,
  updatedAt: Date.now(),
});

describe('Redis registry', () => {
  let redis: Redis | undefined;
  let prefix = '';
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
    if (redis) {
      await dropRedisPrefix(prefix);
      redis.disconnect();
      redis = undefined;
    }
  });

  it('stops naming a server once it has not beaten for staleMs', async () => {
    const registry = new RedisRegistry(redis!, prefix, pino({ level: 'silent' }), 300);
    await registry.heartbeat(info('a', 3));
    await registry.heartbeat(info('b', 5));
    expect((await registry.list()).map((s) => [s.id, s.load]).sort()).toEqual([
      ['a', 3],
      ['b', 5],
    ]);
    // b keeps beating, a stops.
    const started = Date.now();
    let goneAfter = 0;
    while (Date.now() - started < 5000) {
      await registry.heartbeat(info('b', 5));
      const ids = (await registry.list()).map((s) => s.id);
      if (!ids.includes('a')) {
        goneAfter = Date.now() - started;
        break;
      }
      expect(ids).toContain('b');
      await new Promise((r) => setTimeout(r, 20));
    }
    console.log(`a left discovery ${goneAfter} ms after its last beat (staleMs 300)`);
    expect(goneAfter).toBeGreaterThan(0);
    expect((await registry.list()).map((s) => s.id)).toEqual(['b']);
    // The expired id is also dropped from the set of ids.
    expect(await redis!.smembers(`${prefix}chat:ids`)).toEqual(['b']);
  });

  it('remove takes a server out at once', async () => {
    const registry = new RedisRegistry(redis!, prefix, pino({ level: 'silent' }), 60_000);
    await registry.heartbeat(info('a'));
    await registry.remove('a');
    expect(await registry.list()).toEqual([]);
  });
});
