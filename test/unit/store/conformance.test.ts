/**
 * Store conformance: every adapter must pass every test here (style.md; kysely runs each test
 * file once per dialect). Differences between adapters are capabilities, never adapter names.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '@parley/server';
import { selectedAdapters } from '../../helpers/store-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;

for (const adapter of selectedAdapters()) {
  describe(`store conformance: ${adapter.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let skip: string | null = null;

    beforeEach(async (ctx) => {
      skip = await adapter.unavailable();
      if (skip) {
        if (process.env.PARLEY_REQUIRE_SERVICES) throw new Error(`${adapter.name}: ${skip}`);
        console.warn(`skipped: ${adapter.name}: ${skip}`);
        ctx.skip();
        return;
      }
      ({ store, cleanup } = await adapter.open());
    });
    afterEach(async () => {
      if (!skip) await cleanup();
    });

    async function user(name = uid('u')) {
      const u = {
        id: uid('u_'),
        username: name,
        displayName: name,
        passwordHash: 'h',
        createdAt: Date.now(),
      };
      await store.createUser(u);
      return u;
    }
    const msg = (conversationId: string, senderId: string, clientId: string, text = 'hi') => ({
      id: uid('m'),
      conversationId,
      senderId,
      clientId,
      text,
      createdAt: Date.now(),
    });

    it('creates users with case-insensitive unique usernames', async () => {
      const a = await user('ana');
      expect((await store.getUserByUsername('ana'))?.id).toBe(a.id);
      await expect(store.createUser({ ...a, id: uid('u_') })).rejects.toMatchObject({
        code: 'username_taken',
      });
      expect(await store.getUserById('nope')).toBeNull();
    });

    it('finds a device by token hash until it is revoked', async () => {
      const a = await user();
      const now = Date.now();
      await store.createDevice(
        { id: 'd1', userId: a.id, name: 'phone', createdAt: now, lastSeenAt: now },
        'hash1',
      );
      await store.createDevice(
        { id: 'd2', userId: a.id, name: 'laptop', createdAt: now, lastSeenAt: now },
        'hash2',
      );
      expect((await store.getDeviceByTokenHash('hash1'))?.user.id).toBe(a.id);
      expect((await store.listDevices(a.id)).map((d) => d.id).sort()).toEqual(['d1', 'd2']);
      const b = await user();
      expect(await store.revokeDevice(b.id, 'd1')).toBe(false);
      expect(await store.revokeDevice(a.id, 'd1')).toBe(true);
      expect(await store.revokeDevice(a.id, 'd1')).toBe(false);
      expect(await store.getDeviceByTokenHash('hash1')).toBeNull();
      expect((await store.listDevices(a.id)).map((d) => d.id)).toEqual(['d2']);
    });

    it('returns the same direct conversation whoever asks', async () => {
      const a = await user();
      const b = await user();
      const c1 = await store.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const c2 = await store.getOrCreateDirect(uid('c_'), b.id, a.id, Date.now());
      expect(c2.id).toBe(c1.id);
      expect((await store.listMembers(c1.id)).length).toBe(2);
    });

    it('assigns gap-free seqs, feed positions and idempotency in one batch', async () => {
      const a = await user();
      const b = await user();
      const c = await store.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const res = await store.appendMessages([
        msg(c.id, a.id, 'k1'),
        msg(c.id, b.id, 'k1'),
        msg(c.id, a.id, 'k1'), // duplicate of the first
        msg(c.id, a.id, 'k2'),
      ]);
      expect(res.map((r) => (r.ok ? [r.message.seq, r.duplicate] : r.code))).toEqual([
        [1, false],
        [2, false],
        [1, true],
        [3, false],
      ]);
      const first = res[0];
      if (!first?.ok) throw new Error('expected ok');
      expect(first.recipients.sort()).toEqual([a.id, b.id].sort());
      const again = await store.appendMessages([msg(c.id, a.id, 'k2')]);
      expect(again[0]).toMatchObject({ ok: true, duplicate: true, message: { seq: 3 } });
      // Each recipient's previous feed position chains the batch: 0, then the one before.
      const fresh = res.filter((r) => r.ok && !r.duplicate);
      const prevOf = (i: number, u: string) => {
        const r = fresh[i];
        return r?.ok ? r.prev[r.recipients.indexOf(u)] : undefined;
      };
      const p = fresh.map((r) => (r.ok ? r.message.pos : 0));
      expect([prevOf(0, a.id), prevOf(1, a.id), prevOf(2, a.id)]).toEqual([0, p[0], p[1]]);
      expect([prevOf(0, b.id), prevOf(1, b.id), prevOf(2, b.id)]).toEqual([0, p[0], p[1]]);
      const poss = res.flatMap((r) => (r.ok && !r.duplicate ? [r.message.pos] : []));
      expect([...poss].sort((x, y) => x - y)).toEqual(poss);
      expect(new Set(poss).size).toBe(3);
    });

    it('refuses non-members like unknown conversations and conflicting client ids', async () => {
      const a = await user();
      const b = await user();
      const x = await user();
      const c = await store.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const other = await store.getOrCreateDirect(uid('c_'), a.id, x.id, Date.now());
      const [r1, r2, r3] = await store.appendMessages([
        msg(c.id, x.id, 'z'),
        msg('c_unknown', a.id, 'z'),
        msg(c.id, a.id, 'q'),
      ]);
      expect(r1).toEqual({ ok: false, code: 'not_found' });
      expect(r2).toEqual({ ok: false, code: 'not_found' });
      expect(r3?.ok).toBe(true);
      const [r4] = await store.appendMessages([msg(other.id, a.id, 'q')]);
      expect(r4).toEqual({ ok: false, code: 'client_id_conflict' });
    });

    it('pages history before and after a seq', async () => {
      const a = await user();
      const b = await user();
      const c = await store.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      await store.appendMessages(Array.from({ length: 25 }, (_, i) => msg(c.id, a.id, `h${i}`, `t${i + 1}`)));
      const last = await store.history(c.id, { limit: 10 });
      expect(last.messages.map((m) => m.seq)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
      expect(last.hasMore).toBe(true);
      const older = await store.history(c.id, { before: 16, limit: 10 });
      expect(older.messages[0]?.seq).toBe(6);
      const oldest = await store.history(c.id, { before: 6, limit: 10 });
      expect(oldest.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(oldest.hasMore).toBe(false);
      const after = await store.history(c.id, { after: 20, limit: 10 });
      expect(after.messages.map((m) => m.text)).toEqual(['t21', 't22', 't23', 't24', 't25']);
      expect(after.hasMore).toBe(false);
    });

    it('reads each user feed in order, exactly what they are a member of', async () => {
      const a = await user();
      const b = await user();
      const x = await user();
      const ab = await store.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const g = await store.createGroup(uid('c_'), 'g', a.id, [b.id, x.id], Date.now());
      await store.appendMessages([msg(ab.id, a.id, 'f1'), msg(g.id, x.id, 'f2'), msg(ab.id, b.id, 'f3')]);
      const fx = await store.readFeed(x.id, 0, 10);
      expect(fx.messages.map((m) => m.clientId)).toEqual(['f2']);
      const fa = await store.readFeed(a.id, 0, 2);
      expect(fa.messages.map((m) => m.clientId)).toEqual(['f1', 'f2']);
      expect(fa.hasMore).toBe(true);
      const rest = await store.readFeed(a.id, fa.messages[1]?.pos ?? 0, 2);
      expect(rest.messages.map((m) => m.clientId)).toEqual(['f3']);
      expect(rest.hasMore).toBe(false);
      expect(await store.feedHead(a.id)).toBe(rest.messages[0]?.pos);
      expect(await store.feedHead(uid('nobody'))).toBe(0);
    });

    it('keeps groups within the member limit atomically', async () => {
      const a = await user();
      const others = await Promise.all([user(), user(), user()]);
      const g = await store.createGroup(uid('c_'), 'g', a.id, [others[0]!.id], Date.now());
      await expect(
        store.addMembers(
          g.id,
          others.map((o) => o.id),
          3,
          Date.now(),
        ),
      ).rejects.toMatchObject({ code: 'group_full' });
      expect((await store.listMembers(g.id)).length).toBe(2);
      await store.addMembers(g.id, [others[1]!.id], 3, Date.now());
      expect((await store.listMembers(g.id)).length).toBe(3);
      expect((await store.getMember(g.id, a.id))?.role).toBe('admin');
      await store.setRole(g.id, others[1]!.id, 'admin');
      expect((await store.getMember(g.id, others[1]!.id))?.role).toBe('admin');
      await store.removeMember(g.id, others[1]!.id);
      expect(await store.getMember(g.id, others[1]!.id)).toBeNull();
    });

    it('lists conversations by activity with last message and unread count', async () => {
      const a = await user();
      const b = await user();
      const x = await user();
      const ab = await store.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now() - 1000);
      const ax = await store.getOrCreateDirect(uid('c_'), a.id, x.id, Date.now() - 500);
      await store.appendMessages([msg(ab.id, b.id, 'u1'), msg(ab.id, b.id, 'u2', 'latest')]);
      const list = await store.listConversations(a.id, 10);
      expect(list.map((c) => c.id)).toEqual([ab.id, ax.id]);
      expect(list[0]).toMatchObject({ lastSeq: 2, readSeq: 0, peerId: b.id, memberCount: 2 });
      expect(list[0]?.lastMessage?.text).toBe('latest');
      expect(list[1]?.lastMessage).toBeNull();
      expect(await store.setReadSeq(ab.id, a.id, 1)).toBe(1);
      expect(await store.setReadSeq(ab.id, a.id, 0)).toBe(1); // never backwards
      expect(await store.setReadSeq(ab.id, a.id, 99)).toBe(2); // never past the last message
      // Sending moves the sender's own cursor.
      await store.appendMessages([msg(ab.id, b.id, 'u3')]);
      expect((await store.getConversationSummary(ab.id, b.id))?.readSeq).toBe(3);
      expect(await store.getConversationSummary(ab.id, x.id)).toBeNull();
    });
  });
}
