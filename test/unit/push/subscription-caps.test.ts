/**
 * Push subscriptions are capped per device and per user; one more replaces the oldest, so
 * registering never fails and a message never fans out to more than the caps allow.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MemoryPresence, PushService, createMetrics } from '@parley/server';
import type {
  AccountStore,
  ConversationStore,
  PushProvider,
  PushQueueStore,
  PushSubscriptionRow,
} from '@parley/server';

/** The three subscription methods of the push queue, in memory, listing oldest first as the real ones do. */
function subscriptionStore(): PushQueueStore & { rows: PushSubscriptionRow[] } {
  const rows: PushSubscriptionRow[] = [];
  const store = {
    rows,
    async savePushSubscription(sub: PushSubscriptionRow) {
      rows.push(sub);
      return sub;
    },
    async listPushSubscriptions(userId: string) {
      return rows.filter((r) => r.userId === userId).sort((a, b) => a.createdAt - b.createdAt);
    },
    async deletePushSubscription(id: string, userId?: string) {
      const i = rows.findIndex((r) => r.id === id && (userId === undefined || r.userId === userId));
      if (i >= 0) rows.splice(i, 1);
      return i >= 0;
    },
  };
  return store as unknown as PushQueueStore & { rows: PushSubscriptionRow[] };
}

const provider: PushProvider = { kind: 'fcm', send: async () => ({ outcome: 'sent' }) };

function service(queue: PushQueueStore, caps: { perDevice?: number; perUser?: number } = {}) {
  return new PushService(
    queue,
    // Registering reads neither users nor conversations.
    {} as AccountStore,
    {} as ConversationStore,
    new MemoryPresence(30_000),
    [provider],
    createMetrics(),
    pino({ level: 'silent' }),
    'k',
    {
      ...(caps.perDevice !== undefined ? { maxSubscriptionsPerDevice: caps.perDevice } : {}),
      ...(caps.perUser !== undefined ? { maxSubscriptionsPerUser: caps.perUser } : {}),
    },
  );
}

type Ctx = { userId: string; deviceId: string; username: string };
const ctx = (userId: string, deviceId: string): Ctx => ({ userId, deviceId, username: userId });
let n = 0;
/** Registers an FCM token; each one a millisecond newer than the last. */
async function register(push: PushService, c: Ctx): Promise<string> {
  n++;
  const now = Date.now;
  Date.now = () => 1_000_000 + n;
  try {
    return (await push.register(c, { kind: 'fcm', token: `token-${String(n).padStart(20, '0')}` })).id;
  } finally {
    Date.now = now;
  }
}

describe('push subscription caps', () => {
  it('a device keeps its two newest by default: a third replaces the oldest', async () => {
    const store = subscriptionStore();
    const push = service(store);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await register(push, ctx('u_a', 'd_1')));
    expect((await push.list('u_a')).map((s) => s.id)).toEqual(ids.slice(1));
    // Another device of the same user has its own two.
    const other = await register(push, ctx('u_a', 'd_2'));
    expect((await push.list('u_a')).map((s) => s.id)).toEqual([...ids.slice(1), other]);
  });

  it('a user keeps the newest 20 across devices by default, and 200 registrations leave 20', async () => {
    const store = subscriptionStore();
    const push = service(store);
    const ids = [];
    for (let i = 0; i < 200; i++) ids.push(await register(push, ctx('u_b', `d_${i}`)));
    expect((await push.list('u_b')).map((s) => s.id)).toEqual(ids.slice(-20));
    expect(store.rows).toHaveLength(20);
  });

  it('the caps are options; other users are not touched', async () => {
    const store = subscriptionStore();
    const push = service(store, { perDevice: 1, perUser: 3 });
    const carl = await register(push, ctx('u_carl', 'd_c'));
    const a = await register(push, ctx('u_dee', 'd_1'));
    const b = await register(push, ctx('u_dee', 'd_1'));
    expect((await push.list('u_dee')).map((s) => s.id)).toEqual([b]);
    expect(a).not.toBe(b);
    const more = [];
    for (let i = 2; i <= 5; i++) more.push(await register(push, ctx('u_dee', `d_${i}`)));
    expect((await push.list('u_dee')).map((s) => s.id)).toEqual(more.slice(-3));
    expect((await push.list('u_carl')).map((s) => s.id)).toEqual([carl]);
  });
});
