/**
 * Store conformance for former members (a group stays in the list of someone who left it)
 * and for who sees a user's name: every adapter must pass every test here.
 */
import { describe, expect, it } from 'vitest';
import { selectedAdapters, storePerTest, newStoreUser } from '../../helpers/store-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;

for (const adapter of selectedAdapters()) {
  describe(`store conformance, former members: ${adapter.name}`, () => {
    const env = storePerTest(adapter);

    const user = () => newStoreUser(env.store);
    async function send(conversationId: string, senderId: string, clientId: string) {
      const [r] = await env.store.messages.appendMessages([
        { id: uid('m'), conversationId, senderId, clientId, text: clientId, createdAt: Date.now() },
      ]);
      if (!r?.ok) throw new Error(`append failed: ${r?.code}`);
      return r.message;
    }

    it('keeps a left or removed member as a former member, up to the seq of that moment', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      const g = await env.store.conversations.createGroup(uid('c_'), 'Trip', a.id, [b.id, c.id], Date.now());
      await send(g.id, a.id, 'one');
      await send(g.id, b.id, 'two');

      await env.store.conversations.removeMember(g.id, b.id, { by: null, at: 1000 });
      await env.store.conversations.removeMember(g.id, c.id, { by: a.id, at: 2000 });
      await env.store.conversations.renameGroup(g.id, 'Renamed');
      await send(g.id, a.id, 'three');

      expect(await env.store.conversations.getMember(g.id, b.id)).toBeNull();
      expect(await env.store.conversations.getLeft(g.id, b.id)).toEqual({
        conversationId: g.id,
        userId: b.id,
        leftAt: 1000,
        leftSeq: 2,
        leftBy: null,
        name: 'Trip',
      });
      expect(await env.store.conversations.getLeft(g.id, c.id)).toMatchObject({
        leftBy: a.id,
        leftSeq: 2,
        leftAt: 2000,
      });
      expect(await env.store.conversations.getLeft(g.id, a.id)).toBeNull();
      // Not in the member's own list of current conversations.
      expect((await env.store.conversations.listConversations(b.id, 10)).map((r) => r.id)).toEqual([]);
      expect((await env.store.conversations.listLeft(b.id)).map((l) => l.conversationId)).toEqual([g.id]);
      expect(await env.store.conversations.listLeft(a.id)).toEqual([]);
    });

    it('lists former memberships latest leave first', async () => {
      const [a, b] = [await user(), await user()];
      const g1 = await env.store.conversations.createGroup(uid('c_'), 'g1', a.id, [b.id], Date.now());
      const g2 = await env.store.conversations.createGroup(uid('c_'), 'g2', a.id, [b.id], Date.now());
      await env.store.conversations.removeMember(g1.id, b.id, { by: a.id, at: 5000 });
      await env.store.conversations.removeMember(g2.id, b.id, { by: null, at: 6000 });
      expect((await env.store.conversations.listLeft(b.id)).map((l) => l.conversationId)).toEqual([
        g2.id,
        g1.id,
      ]);
    });

    it('forgets a former membership when deleted, or when the user is added again', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [b.id, c.id], Date.now());
      await env.store.conversations.removeMember(g.id, b.id, { by: a.id });
      await env.store.conversations.removeMember(g.id, c.id, { by: null });

      expect(await env.store.conversations.deleteLeft(g.id, b.id)).toBe(true);
      expect(await env.store.conversations.deleteLeft(g.id, b.id)).toBe(false);
      expect(await env.store.conversations.getLeft(g.id, b.id)).toBeNull();
      expect(await env.store.conversations.listLeft(b.id)).toEqual([]);

      await env.store.conversations.addMembers(g.id, [c.id], 100, Date.now());
      expect(await env.store.conversations.getLeft(g.id, c.id)).toBeNull();
      expect(await env.store.conversations.getMember(g.id, c.id)).not.toBeNull();
      // Leaving again keeps the new moment.
      await send(g.id, c.id, 'back');
      await env.store.conversations.removeMember(g.id, c.id, { by: null, at: 9000 });
      expect(await env.store.conversations.getLeft(g.id, c.id)).toMatchObject({
        leftSeq: 1,
        leftAt: 9000,
        leftBy: null,
      });
    });

    it('keeps no former membership of a direct conversation or of a non-member', async () => {
      const [a, b, x] = [await user(), await user(), await user()];
      const d = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      await env.store.conversations.removeMember(d.id, b.id, { by: a.id });
      expect(await env.store.conversations.getLeft(d.id, b.id)).toBeNull();
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [b.id], Date.now());
      await env.store.conversations.removeMember(g.id, x.id, { by: a.id });
      expect(await env.store.conversations.getLeft(g.id, x.id)).toBeNull();
    });

    it('names everyone who shows a user: members of shared conversations and contacts', async () => {
      const [a, b, c, d, e, stranger] = [
        await user(),
        await user(),
        await user(),
        await user(),
        await user(),
        await user(),
      ];
      await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      await env.store.conversations.createGroup(uid('c_'), 'g', c.id, [a.id, d.id], Date.now());
      await env.store.social.setContactPair(a.id, 'outgoing', e.id, 'incoming', Date.now());
      await env.store.conversations.createGroup(uid('c_'), 'other', stranger.id, [b.id], Date.now());
      expect(await env.store.social.relatedUsers(a.id)).toEqual([a.id, b.id, c.id, d.id, e.id].sort());
      expect(await env.store.social.relatedUsers(stranger.id)).toEqual([stranger.id, b.id].sort());
    });
  });
}
