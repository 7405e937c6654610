/**
 * Several writers on one database, as several server processes would be: runs for every
 * adapter with `capabilities.multiWriter` (PostgreSQL), skipped for the others. Checks the
 * two promises the store makes under concurrency: per-conversation seqs are exactly 1..n,
 * and a reader paging a feed after its cursor (the last position seen in each position space)
 * while writes are in flight never skips a message (no message becomes visible below a
 * position already seen in its space).
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '@parley/server';
import type { Message } from '@parley/protocol';
import { dropTemplate, selectedAdapters } from '../../helpers/store-adapters.js';
import { advance } from '@parley/server';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;

// Only adapters that allow several writers: the property under test does not exist otherwise.
for (const adapter of selectedAdapters().filter((a) => a.multiWriter)) {
  describe(`store concurrency: ${adapter.name}`, () => {
    let stores: Store[] = [];
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async (ctx) => {
      cleanup = undefined;
      const skip = await adapter.unavailable();
      if (skip) {
        if (process.env.PARLEY_REQUIRE_SERVICES) throw new Error(`${adapter.name}: ${skip}`);
        console.warn(`skipped: ${adapter.name}: ${skip}`);
        ctx.skip();
        return;
      }
      const opened = await adapter.open();
      cleanup = opened.cleanup;
      if (!opened.store.capabilities.multiWriter || !opened.openPeer) {
        throw new Error(`${adapter.name} declares multiWriter but cannot open a peer`);
      }
      // Two pools, like two servers.
      stores = [opened.store, await opened.openPeer()];
    });
    afterEach(async () => {
      await cleanup?.();
    });
    afterAll(dropTemplate);
    /** A reader's cursor: the last position seen in each position space. */
    function cursorAfter(cursor: Map<number, number>, messages: readonly Message[]): void {
      for (const m of messages) advance(cursor, m.pos, stores[0]!.capabilities.positionSpaces);
    }
    const byPos = (list: readonly Message[]) => [...list].sort((x, y) => x.pos - y.pos).map((m) => m.id);

    async function users(count: number) {
      const out: string[] = [];
      for (let i = 0; i < count; i++) {
        const id = uid('u_');
        await stores[0]!.accounts.createUser({
          id,
          username: id,
          displayName: id,
          passwordHash: 'h',
          createdAt: Date.now(),
        });
        out.push(id);
      }
      return out;
    }

    it('keeps seqs gap-free and feeds readable without skips while two writers append', async () => {
      const [s1, s2] = stores as [Store, Store];
      const u = await users(8);
      const now = Date.now();
      const conversations = [
        await s1.conversations.createGroup(uid('c_'), 'g1', u[0]!, [u[1]!, u[2]!, u[3]!], now),
        await s1.conversations.createGroup(uid('c_'), 'g2', u[2]!, [u[3]!, u[4]!, u[5]!, u[6]!], now),
        await s1.conversations.createGroup(uid('c_'), 'g3', u[0]!, u.slice(1), now),
        await s2.conversations.getOrCreateDirect(uid('c_'), u[0]!, u[7]!, now),
        await s2.conversations.getOrCreateDirect(uid('c_'), u[4]!, u[5]!, now),
      ];
      const membersOf = new Map<string, string[]>();
      for (const c of conversations)
        membersOf.set(
          c.id,
          (await s1.conversations.listMembers(c.id)).map((m) => m.userId),
        );

      const PER_WRITER = 1000;
      const LANES = 4; // concurrent appendMessages calls per store
      let writing = true;
      let k = 0;
      async function writer(store: Store, name: string) {
        let sent = 0;
        const lanes = Array.from({ length: LANES }, async (_, lane) => {
          while (sent < PER_WRITER) {
            const size = Math.min(PER_WRITER - sent, 1 + ((k++ * 7 + lane) % 20));
            sent += size;
            // One conversation per batch: batches on different conversations share no
            // conversation lock, only their common members' feed heads order them (the case a
            // plain sequence gets wrong).
            const c = conversations[(k++ * 3 + lane) % conversations.length]!;
            const members = membersOf.get(c.id)!;
            const batch = Array.from({ length: size }, () => {
              return {
                id: uid('m'),
                conversationId: c.id,
                senderId: members[k % members.length]!,
                clientId: uid(`${name}-`),
                text: `t${k}`,
                createdAt: Date.now(),
              };
            });
            const res = await store.messages.appendMessages(batch);
            for (const r of res) expect(r).toMatchObject({ ok: true, duplicate: false });
          }
        });
        await Promise.all(lanes);
      }

      // Readers page every member's feed from both stores while the writers run; each page
      // starts after the last position it has seen, as a reconnecting device would.
      async function reader(userId: string): Promise<Message[]> {
        const seen: Message[] = [];
        const cursor = new Map<number, number>();
        let turn = 0;
        for (;;) {
          const done = !writing; // read once more after the writers finish
          const page = await stores[turn++ % 2]!.messages.readFeed(userId, cursor, 37);
          seen.push(...page.messages);
          cursorAfter(cursor, page.messages);
          if (done && !page.hasMore) return seen;
          if (!page.hasMore) await new Promise((r) => setTimeout(r, 1));
        }
      }

      const reads = u.map((id) => reader(id));
      await Promise.all([writer(s1, 'a'), writer(s2, 'b')]);
      writing = false;
      const seenByUser = await Promise.all(reads);

      let total = 0;
      for (const c of conversations) {
        const conv = await s2.conversations.getConversation(c.id);
        const all = await s1.messages.history(c.id, { after: 0, limit: 10_000 });
        const seqs = all.messages.map((m) => m.seq);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
        expect(conv?.lastSeq).toBe(seqs.length);
        // Within a conversation, feed positions follow seqs.
        const poss = all.messages.map((m) => m.pos);
        expect([...poss].sort((a, b) => a - b)).toEqual(poss);
        total += seqs.length;
      }
      expect(total).toBe(2 * PER_WRITER);

      for (const [i, userId] of u.entries()) {
        const final: Message[] = [];
        const cursor = new Map<number, number>();
        for (;;) {
          const page = await s1.messages.readFeed(userId, cursor, 500);
          final.push(...page.messages);
          cursorAfter(cursor, page.messages);
          if (!page.hasMore) break;
        }
        expect(new Set(final.map((m) => m.pos)).size).toBe(final.length);
        // The head is the cursor of everything, space by space.
        expect(await s2.messages.feedHead(userId)).toEqual(cursor);
        // What the reader saw during the writes is exactly the final feed: nothing skipped.
        // (Across position spaces pages may interleave differently: compare by position.)
        expect(byPos(seenByUser[i]!)).toEqual(byPos(final));
      }
    }, 120_000);

    it('stores a message once when two writers receive the same resend at once', async () => {
      const [s1, s2] = stores as [Store, Store];
      const [a, b] = await users(2);
      const c = await s1.conversations.getOrCreateDirect(uid('c_'), a!, b!, Date.now());
      const batch = (prefix: string) =>
        Array.from({ length: 200 }, (_, i) => ({
          id: uid(prefix),
          conversationId: c.id,
          senderId: i % 2 ? a! : b!,
          clientId: `k${i}`,
          text: `x${i}`,
          createdAt: Date.now(),
        }));
      const chunks = (list: ReturnType<typeof batch>) =>
        Array.from({ length: 10 }, (_, i) => list.slice(i * 20, i * 20 + 20));
      const [r1, r2] = await Promise.all([
        Promise.all(chunks(batch('m1_')).map((ch) => s1.messages.appendMessages(ch))).then((r) => r.flat()),
        Promise.all(chunks(batch('m2_')).map((ch) => s2.messages.appendMessages(ch))).then((r) => r.flat()),
      ]);
      for (let i = 0; i < 200; i++) {
        const x = r1[i];
        const y = r2[i];
        if (!x?.ok || !y?.ok) throw new Error(`expected both ok at ${i}`);
        expect([x.duplicate, y.duplicate].sort()).toEqual([false, true]);
        expect(y.message).toEqual(x.message);
      }
      const all = await s1.messages.history(c.id, { after: 0, limit: 1000 });
      expect(all.messages.map((m) => m.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    }, 60_000);

    it('never hands one push job to two claimers at once', async () => {
      const [s1, s2] = stores as [Store, Store];
      const [u] = await users(1);
      const subs = [];
      for (let i = 0; i < 4; i++) {
        subs.push(
          await s1.push.savePushSubscription({
            id: uid('ps_'),
            userId: u!,
            deviceId: `d${i}`,
            kind: 'fcm',
            address: uid('tok'),
            p256dh: null,
            auth: null,
            createdAt: Date.now(),
          }),
        );
      }
      const now = Date.now();
      const jobs = [];
      for (let m = 0; m < 150; m++) {
        for (const s of subs)
          jobs.push({
            messageId: `m${m}`,
            subscriptionId: s.id,
            userId: s.userId,
            payload: '{}',
            createdAt: now,
          });
      }
      expect(await s1.push.enqueuePushJobs(jobs)).toBe(600);
      // Both servers claim small batches as fast as they can until the queue is empty.
      const claimed: number[] = [];
      const claimer = async (s: Store) => {
        for (;;) {
          const got = await s.push.claimPushJobs(now, 7, 60_000);
          if (got.length === 0) return;
          claimed.push(...got.map((j) => j.id));
        }
      };
      await Promise.all([claimer(s1), claimer(s2), claimer(s1), claimer(s2)]);
      expect(claimed).toHaveLength(600);
      expect(new Set(claimed).size).toBe(600);
    });
  });
}
