/**
 * Store conformance for conversations whose rows are spread out: a user's list, a direct
 * pair and a former membership, with users and conversations on different databases of a
 * sharded adapter (and anywhere at all on the others). Every adapter must pass every test here.
 */
import { describe, expect, it } from 'vitest';
import { keyOn } from '../../helpers/placement.js';
import { selectedAdapters, storePerTest } from '../../helpers/store-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;

const idIn = (half: 0 | 1, prefix: string) => keyOn(half, prefix);

for (const adapter of selectedAdapters()) {
  describe(`store conformance, conversations across databases: ${adapter.name}`, () => {
    const env = storePerTest(adapter);

    async function user(half: 0 | 1) {
      const name = uid('u');
      const u = { id: idIn(half, 'u_'), username: name, displayName: name, passwordHash: 'h', createdAt: 1 };
      await env.store.accounts.createUser(u);
      return u;
    }
    async function send(conversationId: string, senderId: string, createdAt: number) {
      const [r] = await env.store.messages.appendMessages([
        { id: uid('m'), conversationId, senderId, clientId: uid('k'), text: 'hi', createdAt },
      ]);
      return r;
    }

    it('merges a user’s list from conversations on every database, by activity', async () => {
      const [a, b] = [await user(0), await user(1)];
      const t = Date.now();
      const group = (half: 0 | 1, at: number) =>
        env.store.conversations.createGroup(idIn(half, 'c_'), 'g', a.id, [b.id], at);
      const g1 = await group(0, t - 3000);
      const g2 = await group(1, t - 2000);
      const g3 = await group(0, t - 1000);
      const g4 = await group(1, t - 4000);
      const ids = async (userId: string, limit: number) =>
        (await env.store.conversations.listConversations(userId, limit)).map((c) => c.id);
      expect(await ids(a.id, 10)).toEqual([g3.id, g2.id, g1.id, g4.id]);
      expect(await ids(b.id, 3)).toEqual([g3.id, g2.id, g1.id]);
      expect((await send(g4.id, b.id, t))?.ok).toBe(true);
      expect(await ids(a.id, 2)).toEqual([g4.id, g3.id]);
      const [top] = await env.store.conversations.listConversations(a.id, 1);
      expect(top).toMatchObject({ id: g4.id, lastSeq: 1, memberCount: 2, role: 'admin' });
      expect(top?.lastMessage?.senderId).toBe(b.id);
      // Equal activity: by id.
      const same = [await group(1, t + 1000), await group(0, t + 1000)].map((g) => g.id).sort();
      expect(await ids(a.id, 2)).toEqual(same);
      // A removed member's list loses the group on whichever database it is.
      await env.store.conversations.removeMember(g2.id, b.id);
      expect(await ids(b.id, 10)).toEqual([...same, g4.id, g3.id, g1.id]);
      expect(await ids(a.id, 10)).toEqual([...same, g4.id, g3.id, g2.id, g1.id]);
      expect(await env.store.conversations.createdSince(a.id, t - 10_000, 10)).toEqual([
        t - 4000,
        t - 3000,
        t - 2000,
        t - 1000,
        t + 1000,
        t + 1000,
      ]);
      expect(await env.store.conversations.createdSince(b.id, t - 10_000, 10)).toEqual([]);
    });

    it('finds a direct pair whoever asks, wherever the pair and its users are', async () => {
      const [a, b] = [await user(0), await user(1)];
      const t = Date.now();
      const id = idIn(1, 'c_');
      expect(await env.store.conversations.findDirect(a.id, b.id)).toBeNull();
      const created = await env.store.conversations.getOrCreateDirect(id, b.id, a.id, t);
      expect(created).toMatchObject({ id, kind: 'direct', lastSeq: 0 });
      expect((await env.store.conversations.findDirect(a.id, b.id))?.id).toBe(id);
      expect((await env.store.conversations.findDirect(b.id, a.id))?.id).toBe(id);
      expect((await env.store.conversations.getOrCreateDirect(idIn(0, 'c_'), a.id, b.id, t + 1))?.id).toBe(
        id,
      );
      expect((await env.store.conversations.listMembers(id)).map((m) => m.userId).sort()).toEqual(
        [a.id, b.id].sort(),
      );
      expect(
        (await env.store.conversations.listConversations(a.id, 10)).map((c) => [c.id, c.peerId]),
      ).toEqual([[id, b.id]]);
      expect(
        (await env.store.conversations.listConversations(b.id, 10)).map((c) => [c.id, c.peerId]),
      ).toEqual([[id, a.id]]);
      // The creator is whoever asked first.
      expect(await env.store.conversations.createdSince(b.id, t - 1, 10)).toEqual([t]);
      expect(await env.store.conversations.createdSince(a.id, t - 1, 10)).toEqual([]);
      // A note-to-self is its own pair.
      const self = await env.store.conversations.getOrCreateDirect(idIn(0, 'c_'), b.id, b.id, t);
      expect((await env.store.conversations.findDirect(b.id, b.id))?.id).toBe(self.id);
      expect((await env.store.conversations.getConversationSummary(self.id, b.id))?.peerId).toBe(b.id);
    });

    it('creates one direct conversation when both users ask at once', async () => {
      for (let round = 0; round < 3; round++) {
        const [a, b] = [await user(0), await user(1)];
        const t = Date.now();
        const [x, y] = await Promise.all([
          env.store.conversations.getOrCreateDirect(idIn(0, 'c_'), a.id, b.id, t),
          env.store.conversations.getOrCreateDirect(idIn(1, 'c_'), b.id, a.id, t),
        ]);
        expect(y.id).toBe(x.id);
        expect((await env.store.conversations.listMembers(x.id)).length).toBe(2);
        for (const u of [a, b]) {
          expect((await env.store.conversations.listConversations(u.id, 10)).map((c) => c.id)).toEqual([
            x.id,
          ]);
        }
        // One of them created it.
        const created = [
          ...(await env.store.conversations.createdSince(a.id, t, 10)),
          ...(await env.store.conversations.createdSince(b.id, t, 10)),
        ];
        expect(created).toEqual([t]);
      }
    });

    it('creates a direct conversation blocked by a block on another database', async () => {
      const [a, b] = [await user(0), await user(1)];
      await env.store.social.block(a.id, b.id, Date.now());
      const c = await env.store.conversations.getOrCreateDirect(idIn(1, 'c_'), b.id, a.id, Date.now());
      expect(await send(c.id, b.id, Date.now())).toMatchObject({ ok: false, code: 'blocked' });
      expect(await send(c.id, a.id, Date.now())).toMatchObject({ ok: false, code: 'blocked' });
    });

    it('keeps a removed member’s group in their list on their database until re-added', async () => {
      const [a, b] = [await user(0), await user(1)];
      const g = await env.store.conversations.createGroup(idIn(0, 'c_'), 'Trip', a.id, [b.id], Date.now());
      expect((await send(g.id, a.id, Date.now()))?.ok).toBe(true);
      await env.store.conversations.removeMember(g.id, b.id, { by: a.id, at: 1000 });
      await env.store.conversations.renameGroup(g.id, 'Renamed');
      expect(await env.store.conversations.listLeft(b.id)).toEqual([
        { conversationId: g.id, userId: b.id, leftAt: 1000, leftSeq: 1, leftBy: a.id, name: 'Trip' },
      ]);
      expect(await env.store.conversations.getMember(g.id, b.id)).toBeNull();
      // Added again: the hold goes, the group is back in their list from where it starts.
      await env.store.conversations.addMembers(g.id, [b.id], 10, Date.now());
      expect(await env.store.conversations.getLeft(g.id, b.id)).toBeNull();
      expect(await env.store.conversations.listLeft(b.id)).toEqual([]);
      expect((await env.store.conversations.listConversations(b.id, 10)).map((c) => c.id)).toEqual([g.id]);
      expect(await env.store.conversations.getMember(g.id, b.id)).toMatchObject({ readSeq: 1 });
      // Left once more, then deleted from their list.
      await env.store.conversations.removeMember(g.id, b.id, { at: 2000 });
      expect((await env.store.conversations.getLeft(g.id, b.id))?.name).toBe('Renamed');
      expect(await env.store.conversations.listConversations(b.id, 10)).toEqual([]);
      expect(await env.store.conversations.deleteLeft(g.id, b.id)).toBe(true);
      expect(await env.store.conversations.deleteLeft(g.id, b.id)).toBe(false);
      expect(await env.store.conversations.listLeft(b.id)).toEqual([]);
    });

    it('refuses a full group without touching anyone’s list', async () => {
      const [a, b, c] = [await user(0), await user(1), await user(1)];
      const g = await env.store.conversations.createGroup(idIn(0, 'c_'), 'g', a.id, [b.id], Date.now());
      await env.store.conversations.removeMember(g.id, b.id, { at: 1000 });
      await expect(
        env.store.conversations.addMembers(g.id, [b.id, c.id], 2, Date.now()),
      ).rejects.toMatchObject({
        code: 'group_full',
      });
      expect((await env.store.conversations.listLeft(b.id)).map((l) => l.conversationId)).toEqual([g.id]);
      expect(await env.store.conversations.listConversations(c.id, 10)).toEqual([]);
      expect((await env.store.conversations.listMembers(g.id)).map((m) => m.userId)).toEqual([a.id]);
    });
  });
}
