/**
 * The push service applies the policy to what the store and presence say: muted members get
 * only mentions (none when they muted mentions too), devices in active use nothing. The queue and the stores are in memory here;
 * the integration tests run the same path over the real server (without mentions, which no
 * send carries yet).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MemoryPresence, PushService, createMetrics } from '@parley/server';
import type {
  AccountStore,
  ConversationStore,
  NewPushJob,
  PushProvider,
  PushQueueStore,
  PushSubscriptionRow,
  PushTargetQuery,
  PushTargetRow,
} from '@parley/server';
import type { Message, PushPayload } from '@parley/protocol';

const sub = (userId: string, deviceId: string): PushSubscriptionRow => ({
  id: `ps_${deviceId}`,
  userId,
  deviceId,
  kind: 'fcm',
  address: `token-${deviceId}`,
  p256dh: null,
  auth: null,
  createdAt: 1,
});

/**
 * The members' subscriptions; `muted` lists who muted the conversation, `mutedMentions` who
 * muted mentions with it.
 */
function queue(
  subs: PushSubscriptionRow[],
  muted: string[],
  mutedMentions: string[] = [],
): PushQueueStore & { jobs: NewPushJob[] } {
  const jobs: NewPushJob[] = [];
  const store = {
    jobs,
    async pushTargets(entries: readonly PushTargetQuery[]) {
      const out: PushTargetRow[] = [];
      for (const e of entries)
        for (const u of e.userIds)
          for (const s of subs.filter((x) => x.userId === u))
            out.push({
              conversationId: e.conversationId,
              userId: u,
              muted: muted.includes(u),
              mutedMentions: mutedMentions.includes(u),
              readSeq: 0,
              // Nothing read, and no events: every message up to the batch's last is unread.
              unread: e.upToSeq,
              pushPreview: true,
              subscription: s,
            });
      return out;
    },
    async enqueuePushJobs(list: readonly NewPushJob[]) {
      jobs.push(...list);
      return list.length;
    },
  };
  return store as unknown as PushQueueStore & { jobs: NewPushJob[] };
}

const accounts = {
  getUsersByIds: async (ids: string[]) => ids.map((id) => ({ id, displayName: id })),
} as unknown as AccountStore;
const conversations = {
  getConversation: async (id: string) => ({ id, kind: 'group', name: 'G' }),
} as unknown as ConversationStore;
const provider: PushProvider = { kind: 'fcm', send: async () => ({ outcome: 'sent' }) };

const message = (seq: number, mentions?: string[]): Message => ({
  id: `m${seq}`,
  conversationId: 'c_1',
  seq,
  pos: seq,
  senderId: 'u_ana',
  clientId: `k${seq}`,
  kind: 'text',
  text: `text ${seq}`,
  createdAt: 1,
  ...(mentions ? { mentions } : {}),
});

let closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closing) await c();
  closing = [];
});

/** Store messages to ana, bob and cy, and the subscriptions that got a job for each. */
async function pushed(
  q: PushQueueStore & { jobs: NewPushJob[] },
  presence: MemoryPresence,
  messages: Message[],
): Promise<string[][]> {
  const push = new PushService(
    q,
    accounts,
    conversations,
    presence,
    [provider],
    createMetrics(),
    pino({ level: 'silent' }),
    'k',
  );
  for (const m of messages) push.stored(m, ['u_ana', 'u_bob', 'u_cy']);
  // `stored` queues after the turn; close() waits for the queueing.
  await push.close();
  return messages.map((m) =>
    q.jobs
      .filter((j) => j.messageId === m.id)
      .map((j) => j.subscriptionId)
      .sort(),
  );
}

describe('push decisions in the push service', () => {
  it('a muted member gets only the message that mentions them; others get every one', async () => {
    const q = queue([sub('u_bob', 'bob1'), sub('u_cy', 'cy1')], ['u_bob']);
    const presence = new MemoryPresence(30_000);
    closing.push(async () => presence.close());
    expect(await pushed(q, presence, [message(1), message(2, ['u_bob']), message(3, ['u_cy'])])).toEqual([
      ['ps_cy1'],
      ['ps_bob1', 'ps_cy1'],
      ['ps_cy1'],
    ]);
  });

  it('a member who muted mentions too gets nothing, mention or not', async () => {
    const q = queue([sub('u_bob', 'bob1'), sub('u_cy', 'cy1')], ['u_bob', 'u_cy'], ['u_bob']);
    const presence = new MemoryPresence(30_000);
    closing.push(async () => presence.close());
    expect(await pushed(q, presence, [message(1), message(2, ['u_bob', 'u_cy'])])).toEqual([[], ['ps_cy1']]);
  });

  it('counts in each notification the messages up to its own, not the later ones of the batch', async () => {
    const q = queue([sub('u_bob', 'bob1')], []);
    const presence = new MemoryPresence(30_000);
    closing.push(async () => presence.close());
    await pushed(q, presence, [message(1), message(2), message(3)]);
    expect(q.jobs.map((j) => (JSON.parse(j.payload) as PushPayload).unread)).toEqual([1, 2, 3]);
  });

  it('skips a device in the foreground and in use, not the same member’s other devices', async () => {
    const q = queue([sub('u_bob', 'laptop'), sub('u_bob', 'phone'), sub('u_cy', 'cy1')], []);
    const presence = new MemoryPresence(30_000);
    closing.push(async () => presence.close());
    presence.deviceConnected('laptop', '1');
    presence.deviceConnected('cy1', '2');
    presence.deviceForeground('cy1', '2', false);
    expect(await pushed(q, presence, [message(1, ['u_bob'])])).toEqual([['ps_cy1', 'ps_phone']]);
  });
});
