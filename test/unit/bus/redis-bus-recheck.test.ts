/**
 * A Redis bus that drops deliveries (its queue full, Redis away) owes their users a
 * `recheck`: it is sent by the next flush that works, so their live connections read the store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { RedisBus } from '@parley/server';
import { REDIS_URL, dropRedisPrefix, redisAvailable, testRedisPrefix } from '../../helpers/services.js';
import { collect } from './bus-adapters.js';

const skip = await redisAvailable();
if (skip && process.env.PARLEY_REQUIRE_SERVICES) throw new Error(`redis bus recheck: ${skip}`);
if (skip) console.warn(`skipped: ${skip}`);

const prefix = testRedisPrefix();
const buses: RedisBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
  await dropRedisPrefix(prefix);
});

function open(serverId: string, maxQueuedEvents?: number): RedisBus {
  const bus = new RedisBus({
    url: REDIS_URL,
    prefix,
    serverId,
    log: pino({ level: 'silent' }),
    ...(maxQueuedEvents === undefined ? {} : { maxQueuedEvents }),
  });
  buses.push(bus);
  return bus;
}

describe.skipIf(skip !== null)('redis bus: dropped deliveries', () => {
  it('tells the users of dropped deliveries to recheck, once', async () => {
    const a = open('a');
    const b = open('b', 1);
    await Promise.all([a.ready(), b.ready()]);
    const got = collect(a);
    await a.attach('u1');
    await a.attach('u2');
    // One turn: the queue takes the first event, the next two are dropped.
    b.publish({ type: 'deliver', userIds: ['u1'], frame: 'one', pos: 1 });
    b.publish({ type: 'deliver', userIds: ['u2'], frame: 'two', pos: 2 });
    b.publish({ type: 'deliver', userIds: ['u1', 'offline'], frame: 'three', pos: 3 });
    await b.flushed();
    await got.until((evs) => evs.some((e) => e.type === 'recheck'));
    // Anything sent later arrives after the recheck, so none is owed twice.
    await a.attach('probe');
    b.publish({ type: 'deliver', userIds: ['probe'], frame: 'probe' });
    await got.until((evs) => evs.some((e) => e.type === 'deliver' && e.frame === 'probe'));
    const rechecks = got.events.filter((e) => e.type === 'recheck');
    expect(rechecks).toHaveLength(1);
    expect(rechecks[0]?.type === 'recheck' && [...rechecks[0].userIds].sort()).toEqual(['u1', 'u2']);
    expect(
      got.events.filter((e) => e.type === 'deliver').map((e) => e.type === 'deliver' && e.frame),
    ).toEqual(['one', 'probe']);
  });
});
