/**
 * Store conformance: every adapter must pass every test here (one suite for every adapter,
 * the way kysely runs each test file once per dialect). Differences between adapters are
 * capabilities, never adapter names.
 */
import { describe, expect, it } from 'vitest';
import { databaseOf, keyOn } from '../../helpers/placement.js';
import { selectedAdapters, storePerTest } from '../../helpers/store-adapters.js';
import { headOf, upTo } from '../../helpers/feed-positions.js';
import { advance } from '@parley/server';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;

for (const adapter of selectedAdapters()) {
  describe(`store conformance: ${adapter.name}`, () => {
    const env = storePerTest(adapter);
    /** Everything up to `pos` read, in each of the store's position spaces. */
    const at = (pos: number) => upTo(pos, env.store.capabilities.positionSpaces);

    async function user(name = uid('u')) {
      const u = {
        id: uid('u_'),
        username: name,
        displayName: name,
        passwordHash: 'h',
        createdAt: Date.now(),
      };
      await env.store.accounts.createUser(u);
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
      expect((await env.store.accounts.getUserByUsername('ana'))?.id).toBe(a.id);
      await expect(env.store.accounts.createUser({ ...a, id: uid('u_') })).rejects.toMatchObject({
        code: 'username_taken',
      });
      expect(await env.store.accounts.getUserById('nope')).toBeNull();
    });

    it('finds a device by token hash until it is revoked', async () => {
      const a = await user();
      const now = Date.now();
      await env.store.accounts.createDevice(
        { id: 'd1', userId: a.id, name: 'phone', createdAt: now, lastSeenAt: now },
        'hash1',
      );
      await env.store.accounts.createDevice(
        { id: 'd2', userId: a.id, name: 'laptop', createdAt: now, lastSeenAt: now },
        'hash2',
      );
      // In the order asked, unknown hashes as null, a hash asked twice answered twice.
      const found = await env.store.accounts.getDevicesByTokenHashes(['hash2', 'nope', 'hash1', 'hash2']);
      expect(found.map((f) => f?.device.id ?? null)).toEqual(['d2', null, 'd1', 'd2']);
      expect(found[2]).toMatchObject({
        user: { id: a.id, username: a.username },
        device: { id: 'd1', userId: a.id, name: 'phone', createdAt: now, lastSeenAt: now },
      });
      expect(await env.store.accounts.getDevicesByTokenHashes([])).toEqual([]);
      expect((await env.store.accounts.listDevices(a.id)).map((d) => d.id).sort()).toEqual(['d1', 'd2']);
      const b = await user();
      expect(await env.store.accounts.revokeDevice(b.id, 'd1')).toBe(false);
      expect(await env.store.accounts.revokeDevice(a.id, 'd1')).toBe(true);
      expect(await env.store.accounts.revokeDevice(a.id, 'd1')).toBe(false);
      expect(
        (await env.store.accounts.getDevicesByTokenHashes(['hash1', 'hash2'])).map(
          (f) => f?.device.id ?? null,
        ),
      ).toEqual([null, 'd2']);
      expect((await env.store.accounts.listDevices(a.id)).map((d) => d.id)).toEqual(['d2']);
    });

    it('returns the same direct conversation whoever asks', async () => {
      const a = await user();
      const b = await user();
      const c1 = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const c2 = await env.store.conversations.getOrCreateDirect(uid('c_'), b.id, a.id, Date.now());
      expect(c2.id).toBe(c1.id);
      expect((await env.store.conversations.listMembers(c1.id)).length).toBe(2);
    });

    it('assigns gap-free seqs, feed positions and idempotency in one batch', async () => {
      const a = await user();
      const b = await user();
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const res = await env.store.messages.appendMessages([
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
      expect([...first.recipients].sort()).toEqual([a.id, b.id].sort());
      const again = await env.store.messages.appendMessages([msg(c.id, a.id, 'k2')]);
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

    it('moves seq, activity and the sender read cursor once per batch, exactly as per message', async () => {
      const a = await user();
      const b = await user();
      const x = await user();
      const ab = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now() - 5000);
      const g = await env.store.conversations.createGroup(
        uid('c_'),
        'g',
        a.id,
        [b.id, x.id],
        Date.now() - 5000,
      );
      const t = Date.now();
      const at = (m: ReturnType<typeof msg>, createdAt: number) => ({ ...m, createdAt });
      const res = await env.store.messages.appendMessages([
        at(msg(ab.id, a.id, 'b1'), t + 1),
        at(msg(g.id, x.id, 'b2'), t + 2),
        at(msg(ab.id, b.id, 'b3'), t + 3),
        at(msg(ab.id, a.id, 'b4'), t + 4),
        at(msg(g.id, a.id, 'b5'), t + 5),
        at(msg(g.id, x.id, 'b6'), t + 6),
        at(msg(ab.id, x.id, 'b7'), t + 7), // not a member: no seq used
        at(msg(g.id, x.id, 'b2'), t + 8), // duplicate: no seq used
      ]);
      expect(res.map((r) => (r.ok ? r.message.seq : r.code))).toEqual([1, 1, 2, 3, 2, 3, 'not_found', 1]);
      expect(await env.store.conversations.getConversation(ab.id)).toMatchObject({
        lastSeq: 3,
        lastActivityAt: t + 4,
      });
      expect(await env.store.conversations.getConversation(g.id)).toMatchObject({
        lastSeq: 3,
        lastActivityAt: t + 6,
      });
      // Each sender has read up to their own last message; the others have read nothing.
      expect((await env.store.conversations.getMember(ab.id, a.id))?.readSeq).toBe(3);
      expect((await env.store.conversations.getMember(ab.id, b.id))?.readSeq).toBe(2);
      expect((await env.store.conversations.getMember(g.id, a.id))?.readSeq).toBe(2);
      expect((await env.store.conversations.getMember(g.id, x.id))?.readSeq).toBe(3);
      expect((await env.store.conversations.getMember(g.id, b.id))?.readSeq).toBe(0);
      const list = await env.store.conversations.listConversations(b.id, 10);
      expect(list.map((c) => [c.id, c.lastSeq, c.readSeq, c.lastMessage?.clientId])).toEqual([
        [g.id, 3, 0, 'b6'],
        [ab.id, 3, 2, 'b4'],
      ]);
      // The next batch goes on from the stored counters, and a reader never goes backwards.
      const [next] = await env.store.messages.appendMessages([at(msg(ab.id, b.id, 'b8'), t + 9)]);
      expect(next).toMatchObject({ ok: true, message: { seq: 4 } });
      expect(await env.store.messages.setReadSeq(ab.id, a.id, 99)).toBe(4);
      expect((await env.store.conversations.getMember(ab.id, b.id))?.readSeq).toBe(4);
    });

    it('rolls a failed batch back whole, counters included', async () => {
      const a = await user();
      const b = await user();
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      await env.store.messages.appendMessages([msg(c.id, a.id, 'r1')]);
      // A text the store cannot bind fails the whole batch.
      await expect(
        env.store.messages.appendMessages([
          msg(c.id, a.id, 'r2'),
          { ...msg(c.id, b.id, 'r3'), text: undefined as unknown as string },
        ]),
      ).rejects.toBeTruthy();
      expect((await env.store.conversations.getConversation(c.id))?.lastSeq).toBe(1);
      expect((await env.store.conversations.getMember(c.id, a.id))?.readSeq).toBe(1);
      const [r] = await env.store.messages.appendMessages([msg(c.id, b.id, 'r4')]);
      expect(r).toMatchObject({ ok: true, message: { seq: 2 } });
      expect((await env.store.messages.history(c.id, { limit: 10 })).messages.map((m) => m.clientId)).toEqual(
        ['r1', 'r4'],
      );
    });

    it('stores lone surrogates as U+FFFD without failing the batch around them', async () => {
      const a = await user();
      const b = await user();
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const results = await env.store.messages.appendMessages([
        msg(c.id, a.id, 's1', 'before'),
        msg(c.id, a.id, 's2', 'high \uD800 alone'),
        msg(c.id, b.id, 's3\uDC00', 'low in the client id'),
        msg(`${c.id}\uD83D`, b.id, 's4', 'no such conversation'),
        msg(c.id, b.id, 's5', 'a pair \uD83D\uDE00 stays'),
      ]);
      expect(results.map((r) => (r.ok ? r.message.seq : r.code))).toEqual([1, 2, 3, 'not_found', 4]);
      const page = await env.store.messages.history(c.id, { limit: 10 });
      expect(page.messages.map((m) => [m.clientId, m.text])).toEqual([
        ['s1', 'before'],
        ['s2', 'high \uFFFD alone'],
        ['s3\uFFFD', 'low in the client id'],
        ['s5', 'a pair \uD83D\uDE00 stays'],
      ]);
    });

    it('reads what a completed write wrote, every time (read-your-writes)', async () => {
      const a = await user();
      const b = await user();
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      for (let i = 1; i <= 30; i++) {
        const [r] = await env.store.messages.appendMessages([msg(c.id, i % 2 ? a.id : b.id, `w${i}`)]);
        if (!r?.ok) throw new Error('expected ok');
        const page = await env.store.messages.history(c.id, { limit: 1 });
        expect(page.messages[0]?.clientId).toBe(`w${i}`);
        expect(headOf(await env.store.messages.feedHead(b.id))).toBe(r.message.pos);
        const feed = await env.store.messages.readFeed(a.id, at(r.message.pos - 1), 5);
        expect(feed.messages.map((m) => m.pos)).toEqual([r.message.pos]);
        expect((await env.store.conversations.getMember(c.id, i % 2 ? a.id : b.id))?.readSeq).toBe(i);
      }
      const now = Date.now();
      const d = uid('d_');
      const hash = uid('hash');
      await env.store.accounts.createDevice(
        { id: d, userId: a.id, name: 'phone', createdAt: now, lastSeenAt: now },
        hash,
      );
      expect((await env.store.accounts.getDevicesByTokenHashes([hash]))[0]?.device.id).toBe(d);
      await env.store.accounts.revokeDevice(a.id, d);
      expect(await env.store.accounts.getDevicesByTokenHashes([hash])).toEqual([null]);
      await env.store.accounts.setDisplayName(a.id, 'renamed');
      expect((await env.store.accounts.getUserById(a.id))?.displayName).toBe('renamed');
      expect((await env.store.accounts.getUsersByIds([a.id]))[0]?.displayName).toBe('renamed');
      await env.store.conversations.removeMember(c.id, b.id);
      expect(await env.store.conversations.getMember(c.id, b.id)).toBeNull();
    });

    it('refuses non-members like unknown conversations and conflicting client ids', async () => {
      const a = await user();
      const b = await user();
      const x = await user();
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      // A sharded store sees a client id reused only within one database (protocol.md).
      const other = await env.store.conversations.getOrCreateDirect(
        keyOn(databaseOf(c.id), 'c_'),
        a.id,
        x.id,
        Date.now(),
      );
      const [r1, r2, r3] = await env.store.messages.appendMessages([
        msg(c.id, x.id, 'z'),
        msg('c_unknown', a.id, 'z'),
        msg(c.id, a.id, 'q'),
      ]);
      expect(r1).toEqual({ ok: false, code: 'not_found' });
      expect(r2).toEqual({ ok: false, code: 'not_found' });
      expect(r3?.ok).toBe(true);
      const [r4] = await env.store.messages.appendMessages([msg(other.id, a.id, 'q')]);
      expect(r4).toEqual({ ok: false, code: 'client_id_conflict' });
    });

    it('pages history before and after a seq', async () => {
      const a = await user();
      const b = await user();
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      await env.store.messages.appendMessages(
        Array.from({ length: 25 }, (_, i) => msg(c.id, a.id, `h${i}`, `t${i + 1}`)),
      );
      const last = await env.store.messages.history(c.id, { limit: 10 });
      expect(last.messages.map((m) => m.seq)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
      expect(last.hasMore).toBe(true);
      const older = await env.store.messages.history(c.id, { before: 16, limit: 10 });
      expect(older.messages[0]?.seq).toBe(6);
      const oldest = await env.store.messages.history(c.id, { before: 6, limit: 10 });
      expect(oldest.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(oldest.hasMore).toBe(false);
      const after = await env.store.messages.history(c.id, { after: 20, limit: 10 });
      expect(after.messages.map((m) => m.text)).toEqual(['t21', 't22', 't23', 't24', 't25']);
      expect(after.hasMore).toBe(false);

      // The serialized page is the same page, for members only.
      for (const opts of [
        { limit: 10 },
        { before: 16, limit: 10 },
        { before: 6, limit: 10 },
        { after: 20, limit: 10 },
        { after: 0, limit: 25 },
        { after: 0, limit: 24 },
        { before: 1, limit: 5 },
      ]) {
        const json = await env.store.messages.historyJson(c.id, b.id, opts);
        expect(JSON.parse(json ?? 'null'), JSON.stringify(opts)).toEqual(
          await env.store.messages.history(c.id, opts),
        );
      }
      const x = await user();
      expect(await env.store.messages.historyJson(c.id, x.id, { limit: 10 })).toBeNull();
      expect(await env.store.messages.historyJson('c_unknown', a.id, { limit: 10 })).toBeNull();
      const quiet = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, x.id, Date.now());
      expect(
        JSON.parse((await env.store.messages.historyJson(quiet.id, x.id, { limit: 10 })) ?? 'null'),
      ).toEqual({
        messages: [],
        hasMore: false,
      });
      // Text the JSON writer must escape comes back exactly.
      const tricky = 'quote " backslash \\ newline \n tab \t ctrl \u0001 sep \u2028 emoji 😀 é';
      await env.store.messages.appendMessages([msg(quiet.id, x.id, 'tricky', tricky)]);
      const page = JSON.parse(
        (await env.store.messages.historyJson(quiet.id, a.id, { limit: 1 })) ?? 'null',
      ) as {
        messages: { text: string }[];
      };
      expect(page.messages[0]?.text).toBe(tricky);
    });

    it('reads each user feed in order, exactly what they are a member of', async () => {
      const a = await user();
      const b = await user();
      const x = await user();
      const ab = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [b.id, x.id], Date.now());
      await env.store.messages.appendMessages([
        msg(ab.id, a.id, 'f1'),
        msg(g.id, x.id, 'f2'),
        msg(ab.id, b.id, 'f3'),
      ]);
      const spaces = env.store.capabilities.positionSpaces;
      const fx = await env.store.messages.readFeed(x.id, new Map(), 10);
      expect(fx.messages.map((m) => m.clientId)).toEqual(['f2']);
      // Pages of 2 from an empty cursor, the cursor moved by each message's position: every
      // message once, each conversation in seq order (across conversations, by position).
      const fa = await env.store.messages.readFeed(a.id, new Map(), 2);
      expect(fa.messages).toHaveLength(2);
      expect(fa.hasMore).toBe(true);
      const cursor = new Map<number, number>();
      for (const m of fa.messages) advance(cursor, m.pos, spaces);
      const rest = await env.store.messages.readFeed(a.id, cursor, 2);
      expect(rest.messages).toHaveLength(1);
      expect(rest.hasMore).toBe(false);
      const all = [...fa.messages, ...rest.messages];
      expect(all.map((m) => m.clientId).sort()).toEqual(['f1', 'f2', 'f3']);
      expect(all.filter((m) => m.conversationId === ab.id).map((m) => m.clientId)).toEqual(['f1', 'f3']);
      for (const m of rest.messages) advance(cursor, m.pos, spaces);
      expect(await env.store.messages.feedHead(a.id)).toEqual(cursor);
      // Several reads in one call: each answers as alone, in the order asked.
      const afterFirst = new Map<number, number>();
      for (const m of fa.messages) advance(afterFirst, m.pos, spaces);
      const many = await env.store.messages.readFeeds([
        { userId: a.id, since: afterFirst, limit: 2 },
        { userId: uid('nobody'), since: new Map(), limit: 5 },
        { userId: a.id, since: new Map(), limit: 2 },
        { userId: x.id, since: new Map(), limit: 10 },
      ]);
      expect(many).toEqual([rest, { messages: [], hasMore: false }, fa, fx]);
      expect(await env.store.messages.readFeeds([])).toEqual([]);
      expect(await env.store.messages.feedHead(uid('nobody'))).toEqual(new Map());
      const [hx, none, ha, hx2] = await env.store.messages.feedHeads([x.id, uid('nobody'), a.id, x.id]);
      expect([headOf(hx!), none, ha, headOf(hx2!)]).toEqual([
        fx.messages[0]?.pos,
        new Map(),
        cursor,
        fx.messages[0]?.pos,
      ]);
      expect(await env.store.messages.feedHeads([])).toEqual([]);
    });

    it('reads nothing past the feed head, whatever the since, and keeps the head', async () => {
      const a = await user();
      const b = await user();
      const ab = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      await env.store.messages.appendMessages([msg(ab.id, a.id, 'p1'), msg(ab.id, b.id, 'p2')]);
      const head = headOf(await env.store.messages.feedHead(a.id));
      const headB = headOf(await env.store.messages.feedHead(b.id));
      const clientIds = (p: { messages: { clientId: string }[] }) => p.messages.map((m) => m.clientId);
      expect(clientIds(await env.store.messages.readFeed(a.id, at(head - 1), 10))).toEqual(['p2']);
      // A cursor from before the data went back (chat servers and sync answer the head for it).
      const empty = { messages: [], hasMore: false };
      for (const since of [head, head + 1, head + 1_000_000, Number.MAX_SAFE_INTEGER]) {
        expect(await env.store.messages.readFeed(a.id, at(since), 10), `since ${since}`).toEqual(empty);
      }
      expect(
        await env.store.messages.readFeeds([
          { userId: a.id, since: at(Number.MAX_SAFE_INTEGER), limit: 10 },
          { userId: b.id, since: at(headB + 5), limit: 1 },
        ]),
      ).toEqual([empty, empty]);
      expect((await env.store.messages.feedHeads([a.id, b.id])).map(headOf)).toEqual([head, headB]);
      // What comes next is read from the head on, and still not from past it.
      await env.store.messages.appendMessages([msg(ab.id, b.id, 'p3')]);
      const next = await env.store.messages.readFeed(a.id, at(head), 10);
      expect(clientIds(next)).toEqual(['p3']);
      expect(headOf(await env.store.messages.feedHead(a.id))).toBe(next.messages[0]?.pos);
      expect(await env.store.messages.readFeed(a.id, at(Number.MAX_SAFE_INTEGER), 10)).toEqual(empty);
    });

    it('starts a new member feed at their joining and keeps what a removed member had', async () => {
      const a = await user();
      const b = await user();
      const x = await user();
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [b.id], Date.now());
      const ok = async (senderId: string, clientId: string) => {
        const [r] = await env.store.messages.appendMessages([msg(g.id, senderId, clientId)]);
        if (!r?.ok) throw new Error(`append ${clientId} failed`);
        return r.message;
      };
      const ids = async (userId: string, since = 0) =>
        (await env.store.messages.readFeed(userId, at(since), 50)).messages.map((m) => m.clientId);
      const m1 = await ok(a.id, 'j1');
      await env.store.conversations.addMembers(g.id, [x.id], 100, Date.now());
      expect(await ids(x.id)).toEqual([]);
      expect(headOf(await env.store.messages.feedHead(x.id))).toBe(0);
      const m2 = await ok(b.id, 'j2');
      expect(await ids(x.id)).toEqual(['j2']);
      expect(headOf(await env.store.messages.feedHead(x.id))).toBe(m2.pos);

      await env.store.conversations.removeMember(g.id, b.id);
      await ok(a.id, 'j3');
      expect(await ids(b.id)).toEqual(['j1', 'j2']);
      expect(await ids(b.id, m1.pos)).toEqual(['j2']);
      expect(headOf(await env.store.messages.feedHead(b.id))).toBe(m2.pos);
      expect(await ids(x.id)).toEqual(['j2', 'j3']);

      await env.store.conversations.addMembers(g.id, [b.id], 100, Date.now());
      const m4 = await ok(x.id, 'j4');
      expect(await ids(b.id)).toEqual(['j1', 'j2', 'j4']);
      expect(await ids(b.id, m2.pos)).toEqual(['j4']);
      expect(headOf(await env.store.messages.feedHead(b.id))).toBe(m4.pos);
      // Removed again before anything new: the feed still ends at j4.
      await env.store.conversations.removeMember(g.id, b.id);
      await ok(a.id, 'j5');
      expect(await ids(b.id)).toEqual(['j1', 'j2', 'j4']);
      expect(headOf(await env.store.messages.feedHead(b.id))).toBe(m4.pos);
    });

    it('merges many conversations into one feed in pos order, page by page', async () => {
      const a = await user();
      const peers = await Promise.all(Array.from({ length: 9 }, () => user()));
      const convs = await Promise.all(
        peers.map((p) => env.store.conversations.getOrCreateDirect(uid('c_'), a.id, p.id, Date.now())),
      );
      const g = await env.store.conversations.createGroup(
        uid('c_'),
        'g',
        a.id,
        peers.map((p) => p.id),
        Date.now(),
      );
      const all = [...convs, g];
      // Uneven traffic: a few busy conversations, most quiet, in batches of mixed conversations.
      let k = 0;
      for (let round = 0; round < 8; round++) {
        const batch = Array.from({ length: 11 }, (_, i) => {
          const c = all[(i * i + round) % (i % 3 === 0 ? 2 : all.length)]!;
          const sender = i % 2 === 0 ? a.id : peers[all.indexOf(c) % peers.length]!.id;
          return msg(c.id, c === g || i % 2 === 0 ? a.id : sender, `k${k++}`);
        });
        await env.store.messages.appendMessages(batch);
      }
      const whole = (await env.store.messages.readFeed(a.id, at(0), 500)).messages;
      expect(whole).toHaveLength(k);
      expect(whole.map((m) => m.pos)).toEqual([...whole.map((m) => m.pos)].sort((p, q) => p - q));
      for (const since of [0, whole[10]!.pos, whole[40]!.pos + 1]) {
        const pages: number[] = [];
        let cursor = since;
        for (;;) {
          const page = await env.store.messages.readFeed(a.id, at(cursor), 7);
          pages.push(...page.messages.map((m) => m.pos));
          if (!page.hasMore) break;
          expect(page.messages).toHaveLength(7);
          cursor = page.messages.at(-1)!.pos;
        }
        expect(pages).toEqual(whole.filter((m) => m.pos > since).map((m) => m.pos));
      }
      expect(headOf(await env.store.messages.feedHead(a.id))).toBe(whole.at(-1)!.pos);
      // A peer sees its own direct conversation and the group, nothing of the others.
      const p0 = (await env.store.messages.readFeed(peers[0]!.id, at(0), 500)).messages;
      expect(new Set(p0.map((m) => m.conversationId))).toEqual(
        new Set(
          whole
            .filter((m) => m.conversationId === convs[0]!.id || m.conversationId === g.id)
            .map((m) => m.conversationId),
        ),
      );
      expect(p0.map((m) => m.clientId)).toEqual(
        whole
          .filter((m) => m.conversationId === convs[0]!.id || m.conversationId === g.id)
          .map((m) => m.clientId),
      );
    });

    it('answers presence audiences of many users at once: contacts and 1:1 partners, minus blocks', async () => {
      const now = Date.now();
      const [a, b, c, d, e, f] = [
        await user(),
        await user(),
        await user(),
        await user(),
        await user(),
        await user(),
      ];
      await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, now); // 1:1 partners
      await env.store.social.setContactPair(a.id, 'accepted', c.id, 'accepted', now); // contacts
      await env.store.social.setContactPair(a.id, 'outgoing', f.id, 'incoming', now); // not accepted
      await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, d.id, now);
      await env.store.social.block(d.id, a.id, now); // blocked either way: not told
      await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [e.id], now); // group members ask instead
      const sorted = (ids: string[]) => [...ids].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      expect(await env.store.social.presenceAudiences([a.id, e.id, b.id, a.id])).toEqual([
        sorted([b.id, c.id]),
        [],
        [a.id],
        sorted([b.id, c.id]),
      ]);
      expect(await env.store.social.presenceAudiences([])).toEqual([]);
    });

    it('keeps groups within the member limit atomically', async () => {
      const a = await user();
      const others = await Promise.all([user(), user(), user()]);
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [others[0]!.id], Date.now());
      await expect(
        env.store.conversations.addMembers(
          g.id,
          others.map((o) => o.id),
          3,
          Date.now(),
        ),
      ).rejects.toMatchObject({ code: 'group_full' });
      expect((await env.store.conversations.listMembers(g.id)).length).toBe(2);
      await env.store.conversations.addMembers(g.id, [others[1]!.id], 3, Date.now());
      expect((await env.store.conversations.listMembers(g.id)).length).toBe(3);
      expect((await env.store.conversations.getMember(g.id, a.id))?.role).toBe('admin');
      await env.store.conversations.setRole(g.id, others[1]!.id, 'admin');
      expect((await env.store.conversations.getMember(g.id, others[1]!.id))?.role).toBe('admin');
      await env.store.conversations.removeMember(g.id, others[1]!.id);
      expect(await env.store.conversations.getMember(g.id, others[1]!.id)).toBeNull();
    });

    it('lists conversations by activity with last message and unread count', async () => {
      const a = await user();
      const b = await user();
      const x = await user();
      const ab = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now() - 1000);
      const ax = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, x.id, Date.now() - 500);
      await env.store.messages.appendMessages([msg(ab.id, b.id, 'u1'), msg(ab.id, b.id, 'u2', 'latest')]);
      const list = await env.store.conversations.listConversations(a.id, 10);
      expect(list.map((c) => c.id)).toEqual([ab.id, ax.id]);
      expect(list[0]).toMatchObject({ lastSeq: 2, readSeq: 0, peerId: b.id, memberCount: 2 });
      expect(list[0]?.lastMessage?.text).toBe('latest');
      expect(list[1]?.lastMessage).toBeNull();
      expect(await env.store.messages.setReadSeq(ab.id, a.id, 1)).toBe(1);
      expect(await env.store.messages.setReadSeq(ab.id, a.id, 0)).toBe(1); // never backwards
      expect(await env.store.messages.setReadSeq(ab.id, a.id, 99)).toBe(2); // never past the last message
      // Sending moves the sender's own cursor.
      await env.store.messages.appendMessages([msg(ab.id, b.id, 'u3')]);
      expect((await env.store.conversations.getConversationSummary(ab.id, b.id))?.readSeq).toBe(3);
      expect(await env.store.conversations.getConversationSummary(ab.id, x.id)).toBeNull();
    });

    // ---- push notifications ----

    const sub = (userId: string, deviceId: string, address: string, kind: 'webpush' | 'fcm' = 'webpush') => ({
      id: uid('ps_'),
      userId,
      deviceId,
      kind,
      address,
      p256dh: kind === 'webpush' ? 'p' : null,
      auth: kind === 'webpush' ? 'a' : null,
      createdAt: Date.now(),
    });
    async function device(userId: string) {
      const id = uid('d_');
      const now = Date.now();
      await env.store.accounts.createDevice(
        { id, userId, name: 'phone', createdAt: now, lastSeenAt: now },
        uid('hash'),
      );
      return id;
    }

    it('keeps push subscriptions per device, and drops them with the revoked device', async () => {
      const a = await user();
      const [d1, d2] = [await device(a.id), await device(a.id)];
      const s1 = await env.store.push.savePushSubscription(sub(a.id, d1, 'https://push.example/1'));
      const s2 = await env.store.push.savePushSubscription(sub(a.id, d2, 'tok-2', 'fcm'));
      expect((await env.store.push.listPushSubscriptions(a.id)).map((s) => s.id)).toEqual([s1.id, s2.id]);
      // The same endpoint again (a new login in the same browser) keeps its id, on the new device.
      const again = await env.store.push.savePushSubscription({
        ...sub(a.id, d2, 'https://push.example/1'),
        auth: 'b',
      });
      expect(again).toMatchObject({ id: s1.id, deviceId: d2, auth: 'b' });
      // Another account taking the endpoint gets a fresh subscription; the old one is gone.
      const b = await user();
      const taken = await env.store.push.savePushSubscription(
        sub(b.id, await device(b.id), 'https://push.example/1'),
      );
      expect(taken.id).not.toBe(s1.id);
      expect((await env.store.push.listPushSubscriptions(a.id)).map((s) => s.id)).toEqual([s2.id]);
      expect(await env.store.push.deletePushSubscription(taken.id, a.id)).toBe(false); // not a's
      expect(await env.store.accounts.revokeDevice(a.id, d2)).toBe(true);
      expect(await env.store.push.listPushSubscriptions(a.id)).toEqual([]);
      expect(await env.store.push.deletePushSubscription(taken.id, b.id)).toBe(true);
      expect(await env.store.push.deletePushSubscription(taken.id)).toBe(false);
    });

    it('finds push targets: members with subscriptions, and whether they muted the conversation', async () => {
      const a = await user();
      const b = await user();
      const x = await user();
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [b.id, x.id], Date.now());
      const sb = await env.store.push.savePushSubscription(
        sub(b.id, await device(b.id), uid('https://p.example/')),
      );
      const sx = await env.store.push.savePushSubscription(
        sub(x.id, await device(x.id), uid('https://p.example/')),
      );
      await env.store.messages.appendMessages([msg(g.id, a.id, 'p1'), msg(g.id, a.id, 'p2')]);
      await env.store.messages.setReadSeq(g.id, b.id, 1);
      await env.store.accounts.setPushPreview(x.id, false);
      expect((await env.store.accounts.getUserById(x.id))?.pushPreview).toBe(false);
      expect((await env.store.accounts.getUserById(b.id))?.pushPreview).toBe(true);
      const now = Date.now();
      const all = await env.store.push.pushTargets(
        [{ conversationId: g.id, userIds: [b.id, x.id, 'u_nobody'], upToSeq: 2 }],
        now,
      );
      expect(
        all.map((t) => [t.userId, t.subscription.id, t.readSeq, t.unread, t.pushPreview, t.muted]),
      ).toEqual([
        [b.id, sb.id, 1, 1, true, false],
        [x.id, sx.id, 0, 2, false, false],
      ]);
      expect(await env.store.conversations.setMute(g.id, x.id, now + 60_000)).toBe(true);
      expect(await env.store.conversations.setMute(g.id, 'u_nobody', now + 60_000)).toBe(false);
      expect((await env.store.conversations.getConversationSummary(g.id, x.id))?.mutedUntil).toBe(
        now + 60_000,
      );
      // Muted members are still targets (a mention reaches them), marked muted.
      const muted = await env.store.push.pushTargets(
        [{ conversationId: g.id, userIds: [b.id, x.id], upToSeq: 0 }],
        now,
      );
      expect(muted.map((t) => [t.userId, t.muted])).toEqual([
        [b.id, false],
        [x.id, true],
      ]);
      // A mute that ended no longer counts.
      const later = await env.store.push.pushTargets(
        [{ conversationId: g.id, userIds: [x.id], upToSeq: 0 }],
        now + 60_000,
      );
      expect(later.map((t) => [t.userId, t.muted])).toEqual([[x.id, false]]);
      // Muted until unmuted (the store keeps that as the largest safe integer).
      await env.store.conversations.setMute(g.id, x.id, Number.MAX_SAFE_INTEGER);
      const forever = await env.store.push.pushTargets(
        [{ conversationId: g.id, userIds: [x.id], upToSeq: 0 }],
        now + 3_600_000,
      );
      expect(forever.map((t) => t.muted)).toEqual([true]);
      await env.store.conversations.setMute(g.id, x.id, null);
      expect((await env.store.conversations.getConversationSummary(g.id, x.id))?.mutedUntil).toBeNull();
    });

    it('keeps a mute of mentions with the mute: in push targets and the summary, cleared by unmute', async () => {
      const a = await user();
      const b = await user();
      const x = await user();
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [b.id, x.id], Date.now());
      for (const u of [b.id, x.id])
        await env.store.push.savePushSubscription(sub(u, await device(u), uid('https://p.example/')));
      const summary = async (u: string) => {
        const s = await env.store.conversations.getConversationSummary(g.id, u);
        return [s?.mutedUntil, s?.mutedMentions];
      };
      const targets = async (at: number) =>
        (
          await env.store.push.pushTargets([{ conversationId: g.id, userIds: [b.id, x.id], upToSeq: 0 }], at)
        ).map((t) => [t.userId, t.muted, t.mutedMentions]);
      const now = Date.now();
      expect(await summary(x.id)).toEqual([null, false]);
      // x mutes mentions too; b mutes only the rest.
      expect(await env.store.conversations.setMute(g.id, x.id, now + 60_000, true)).toBe(true);
      expect(await env.store.conversations.setMute(g.id, b.id, now + 60_000, false)).toBe(true);
      expect(await env.store.conversations.setMute(g.id, 'u_nobody', now + 60_000, true)).toBe(false);
      expect(await summary(x.id)).toEqual([now + 60_000, true]);
      expect(await summary(b.id)).toEqual([now + 60_000, false]);
      expect(await targets(now)).toEqual([
        [b.id, true, false],
        [x.id, true, true],
      ]);
      // When the mute ends, so does the mute of mentions.
      expect(await targets(now + 60_000)).toEqual([
        [b.id, false, false],
        [x.id, false, false],
      ]);
      // Muting again without mentions lets them through again.
      await env.store.conversations.setMute(g.id, x.id, Number.MAX_SAFE_INTEGER);
      expect(await summary(x.id)).toEqual([Number.MAX_SAFE_INTEGER, false]);
      // Unmuting clears it, even when asked with mentions.
      await env.store.conversations.setMute(g.id, x.id, Number.MAX_SAFE_INTEGER, true);
      expect(await summary(x.id)).toEqual([Number.MAX_SAFE_INTEGER, true]);
      await env.store.conversations.setMute(g.id, x.id, null, true);
      expect(await summary(x.id)).toEqual([null, false]);
      expect(await targets(now)).toEqual([
        [b.id, true, false],
        [x.id, false, false],
      ]);
    });

    it('queues one push job per (message, subscription) and claims each once', async () => {
      const a = await user();
      const s1 = await env.store.push.savePushSubscription(
        sub(a.id, await device(a.id), uid('https://p.example/')),
      );
      const s2 = await env.store.push.savePushSubscription(sub(a.id, await device(a.id), uid('fcm-'), 'fcm'));
      const t0 = 1_000_000;
      const jobs = [
        { messageId: 'm1', subscriptionId: s1.id, userId: a.id, payload: '{"n":1}', createdAt: t0 },
        { messageId: 'm1', subscriptionId: s2.id, userId: a.id, payload: '{"n":1}', createdAt: t0 },
        { messageId: 'm2', subscriptionId: s1.id, userId: a.id, payload: '{"n":2}', createdAt: t0 + 1 },
      ];
      expect(await env.store.push.enqueuePushJobs(jobs)).toBe(3);
      expect(await env.store.push.enqueuePushJobs(jobs.slice(0, 1))).toBe(0); // never twice
      expect(await env.store.push.claimPushJobs(t0 - 1, 10, 1000)).toEqual([]); // not due yet
      const first = await env.store.push.claimPushJobs(t0 + 1, 2, 1000);
      expect(first.map((j) => [j.messageId, j.subscription.id, j.attempts])).toEqual([
        ['m1', s1.id, 1],
        ['m1', s2.id, 1],
      ]);
      expect(first[1]?.subscription).toMatchObject({ kind: 'fcm', userId: a.id, p256dh: null });
      // Leased: another claim gets only the third; after the lease, the unfinished ones come back.
      const second = await env.store.push.claimPushJobs(t0 + 1, 10, 1000);
      expect(second.map((j) => j.messageId)).toEqual(['m2']);
      const [j1, j2] = first as [(typeof first)[0], (typeof first)[0]];
      await env.store.push.finishPushJob(j1.id, 'sent');
      await env.store.push.retryPushJob(j2.id, t0 + 5000);
      expect((await env.store.push.claimPushJobs(t0 + 1000, 10, 1000)).map((j) => j.messageId)).toEqual([]);
      const third = await env.store.push.claimPushJobs(t0 + 2001, 10, 1000);
      expect(third.map((j) => [j.messageId, j.attempts])).toEqual([['m2', 2]]);
      await env.store.push.finishPushJob(third[0]!.id, 'dropped');
      const retried = await env.store.push.claimPushJobs(t0 + 5000, 10, 1000);
      expect(retried.map((j) => [j.id, j.attempts])).toEqual([[j2.id, 2]]);
      // Handed back untried: due again at once, and that claim was not an attempt.
      await env.store.push.retryPushJob(j2.id, t0 + 5000, true);
      const handedBack = await env.store.push.claimPushJobs(t0 + 5000, 10, 1000);
      expect(handedBack.map((j) => [j.id, j.attempts])).toEqual([[j2.id, 2]]);
      // A removed subscription takes its jobs along.
      expect(await env.store.push.deletePushSubscription(s2.id)).toBe(true);
      expect(await env.store.push.claimPushJobs(t0 + 99_999, 10, 1000)).toEqual([]);
      // Finished jobs are kept (no re-queue) until purged.
      expect(await env.store.push.enqueuePushJobs(jobs.slice(0, 1))).toBe(0);
      expect(await env.store.push.purgePushJobs(t0 + 10)).toBe(2);
      expect(await env.store.push.enqueuePushJobs(jobs.slice(0, 1))).toBe(1);
    });

    it('purges finished push jobs beyond the newest few, however young', async () => {
      const a = await user();
      const s = await env.store.push.savePushSubscription(
        sub(a.id, await device(a.id), uid('https://p.example/')),
      );
      const t0 = 2_000_000;
      const jobs = ['k1', 'k2', 'k3', 'k4'].map((m, i) => ({
        messageId: m,
        subscriptionId: s.id,
        userId: a.id,
        payload: '{}',
        createdAt: t0 + i,
      }));
      expect(await env.store.push.enqueuePushJobs(jobs)).toBe(4);
      const claimed = await env.store.push.claimPushJobs(t0 + 10, 10, 1000);
      // The newest stays pending: pending jobs are never purged.
      for (const j of claimed.slice(0, 3)) await env.store.push.finishPushJob(j.id, 'sent');
      expect(await env.store.push.purgePushJobs(0, 10)).toBe(0);
      expect(await env.store.push.purgePushJobs(0, 2)).toBe(1);
      // k1 is forgotten (could be queued again); k2, k3 finished and k4 pending are kept.
      expect(await env.store.push.enqueuePushJobs(jobs)).toBe(1);
      expect(await env.store.push.purgePushJobs(0, 1)).toBe(1);
      expect(await env.store.push.enqueuePushJobs(jobs.slice(1, 3))).toBe(1);
    });

    // Users on different databases of a store over two (the same as any two users elsewhere).
    async function userOnHalf(half: 0 | 1) {
      const id = keyOn(half, 'u_');
      const name = uid('u');
      await env.store.accounts.createUser({
        id,
        username: name,
        displayName: name,
        passwordHash: 'h',
        createdAt: 1,
      });
      return { id };
    }

    it('claims the push jobs of users of every database once each, oldest first', async () => {
      const a = await userOnHalf(0);
      const b = await userOnHalf(1);
      const sa = await env.store.push.savePushSubscription(sub(a.id, await device(a.id), uid('fcm-'), 'fcm'));
      const sb = await env.store.push.savePushSubscription(sub(b.id, await device(b.id), uid('fcm-'), 'fcm'));
      const t0 = 3_000_000;
      // Interleaved ages: the oldest overall are b's m1, a's m2, b's m3.
      const jobs = [1, 2, 3, 4, 5, 6].map((k) => {
        const [u, s] = k % 2 === 1 ? [b, sb] : [a, sa];
        return {
          messageId: `m${k}`,
          subscriptionId: s.id,
          userId: u.id,
          payload: `{"k":${k}}`,
          createdAt: t0 + k,
        };
      });
      expect(await env.store.push.enqueuePushJobs(jobs)).toBe(6);
      expect(await env.store.push.enqueuePushJobs(jobs)).toBe(0);
      const first = await env.store.push.claimPushJobs(t0 + 10, 3, 1000);
      expect(first.map((j) => [j.messageId, j.subscription.userId])).toEqual([
        ['m1', b.id],
        ['m2', a.id],
        ['m3', b.id],
      ]);
      const rest = await env.store.push.claimPushJobs(t0 + 10, 10, 1000);
      expect(rest.map((j) => j.messageId)).toEqual(['m4', 'm5', 'm6']);
      const all = [...first, ...rest];
      expect(new Set(all.map((j) => j.id)).size).toBe(6);
      // Finished and retried by id, each on its own database.
      for (const j of all.filter((x) => x.messageId !== 'm2' && x.messageId !== 'm5'))
        await env.store.push.finishPushJob(j.id, 'sent');
      for (const j of all.filter((x) => x.messageId === 'm2' || x.messageId === 'm5'))
        await env.store.push.retryPushJob(j.id, t0, true);
      const again = await env.store.push.claimPushJobs(t0 + 10, 10, 1000);
      expect(again.map((j) => [j.messageId, j.attempts, j.payload])).toEqual([
        ['m2', 1, '{"k":2}'],
        ['m5', 1, '{"k":5}'],
      ]);
      for (const j of again) await env.store.push.finishPushJob(j.id, 'dropped');
      expect(await env.store.push.claimPushJobs(t0 + 99_999, 10, 1000)).toEqual([]);
      expect(await env.store.push.purgePushJobs(t0 + 100)).toBe(6);
      expect(await env.store.push.enqueuePushJobs(jobs)).toBe(6);
    });

    it('moves a push endpoint between users of different databases', async () => {
      const a = await userOnHalf(0);
      const b = await userOnHalf(1);
      const address = uid('https://p.example/');
      const sa = await env.store.push.savePushSubscription(sub(a.id, await device(a.id), address));
      const job = { messageId: 'm1', subscriptionId: sa.id, userId: a.id, payload: '{}', createdAt: 1 };
      expect(await env.store.push.enqueuePushJobs([job])).toBe(1);
      // b logs in on the same browser: a fresh subscription of b's; a's and its jobs are gone.
      const db = await device(b.id);
      const sb = await env.store.push.savePushSubscription(sub(b.id, db, address));
      expect(sb).toMatchObject({ userId: b.id, deviceId: db, address });
      expect(sb.id).not.toBe(sa.id);
      expect(await env.store.push.listPushSubscriptions(a.id)).toEqual([]);
      expect((await env.store.push.listPushSubscriptions(b.id)).map((s) => s.id)).toEqual([sb.id]);
      expect(await env.store.push.claimPushJobs(10, 10, 1000)).toEqual([]);
      // b again on another device keeps the id; then back to a, and the endpoint is a's alone.
      const db2 = await device(b.id);
      expect(await env.store.push.savePushSubscription(sub(b.id, db2, address))).toMatchObject({
        id: sb.id,
        deviceId: db2,
      });
      const back = await env.store.push.savePushSubscription(sub(a.id, await device(a.id), address));
      expect(await env.store.push.listPushSubscriptions(b.id)).toEqual([]);
      expect((await env.store.push.listPushSubscriptions(a.id)).map((s) => s.id)).toEqual([back.id]);
      // Gone at the provider: found without its user, wherever it is.
      expect(await env.store.push.deletePushSubscription(back.id)).toBe(true);
      expect(await env.store.push.listPushSubscriptions(a.id)).toEqual([]);
      expect(await env.store.push.deletePushSubscription(back.id)).toBe(false);
    });

    it('keeps the first server value stored', async () => {
      expect(await env.store.values.serverValue('vapid-test', 'one')).toBe('one');
      expect(await env.store.values.serverValue('vapid-test', 'two')).toBe('one');
    });
  });
}
