/**
 * Store conformance for consent: message requests (hidden, accepted, deleted; no push and no
 * presence across them), who created a conversation and when (the hourly quota), and
 * declined contact requests (the cool-down). Every adapter must pass every test here.
 */
import { describe, expect, it } from 'vitest';
import { selectedAdapters, storePerTest, newStoreUser } from '../../helpers/store-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;

for (const adapter of selectedAdapters()) {
  describe(`store conformance, message requests and quotas: ${adapter.name}`, () => {
    const env = storePerTest(adapter);

    const user = () => newStoreUser(env.store);
    async function send(conversationId: string, senderId: string, clientId: string) {
      const [r] = await env.store.messages.appendMessages([
        { id: uid('m'), conversationId, senderId, clientId, text: clientId, createdAt: Date.now() },
      ]);
      if (!r?.ok) throw new Error(`append failed: ${r?.code}`);
      return r.message;
    }
    const listed = async (userId: string) =>
      (await env.store.conversations.listConversations(userId, 100)).map((c) => c.id);

    it('keeps a request out of its recipient’s list until its first message', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now(), true);
      expect((await env.store.conversations.getMember(c.id, b.id))?.request).toBe(true);
      expect((await env.store.conversations.getMember(c.id, a.id))?.request).toBe(false);
      expect(await listed(b.id)).toEqual([]);
      expect(await env.store.conversations.getConversationSummary(c.id, b.id)).toBeNull();
      expect((await env.store.conversations.getConversationSummary(c.id, a.id))?.request).toBe(false);

      await send(c.id, a.id, 'hi');
      expect(await listed(b.id)).toEqual([c.id]);
      expect((await env.store.conversations.getConversationSummary(c.id, b.id))?.request).toBe(true);
      // Asking again for the same pair returns it unchanged.
      expect((await env.store.conversations.getOrCreateDirect(uid('c_'), b.id, a.id, Date.now())).id).toBe(
        c.id,
      );
      expect((await env.store.conversations.findDirect(b.id, a.id))?.id).toBe(c.id);
      expect(await env.store.conversations.findDirect(a.id, (await user()).id)).toBeNull();
    });

    it('accepts a request once; a plain membership has none to accept', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now(), true);
      expect(await env.store.conversations.acceptRequest(c.id, a.id)).toBe(false);
      expect(await env.store.conversations.acceptRequest(c.id, b.id)).toBe(true);
      expect(await env.store.conversations.acceptRequest(c.id, b.id)).toBe(false);
      expect((await env.store.conversations.getMember(c.id, b.id))?.request).toBe(false);
      // Accepted with no message yet: an empty chat is listed like any other.
      expect(await listed(b.id)).toEqual([c.id]);
      expect(await env.store.conversations.dismissRequest(c.id, b.id)).toBe(false);
    });

    it('hides a dismissed request until a newer message', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now(), true);
      await send(c.id, a.id, 'one');
      await send(c.id, a.id, 'two');
      expect(await env.store.conversations.dismissRequest(c.id, b.id)).toBe(true);
      expect(await listed(b.id)).toEqual([]);
      expect(await env.store.conversations.getConversationSummary(c.id, b.id)).toBeNull();
      expect((await env.store.conversations.getMember(c.id, b.id))?.request).toBe(true);
      expect(await listed(a.id)).toEqual([c.id]);

      await send(c.id, a.id, 'three');
      expect(await listed(b.id)).toEqual([c.id]);
      expect((await env.store.conversations.getConversationSummary(c.id, b.id))?.request).toBe(true);
    });

    it('pushes nothing to a request’s recipient', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now(), true);
      for (const u of [a, b]) {
        await env.store.push.savePushSubscription({
          id: uid('s_'),
          userId: u.id,
          deviceId: uid('d_'),
          kind: 'fcm',
          address: uid('token-'),
          p256dh: null,
          auth: null,
          createdAt: Date.now(),
        });
      }
      const targets = async () =>
        (
          await env.store.push.pushTargets(
            [{ conversationId: c.id, userIds: [a.id, b.id], upToSeq: 0 }],
            Date.now(),
          )
        ).map((t) => t.userId);
      expect(await targets()).toEqual([a.id]);
      await env.store.conversations.acceptRequest(c.id, b.id);
      expect(await targets()).toEqual([a.id, b.id]);
    });

    it('shows no presence across a request, either way', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now(), true);
      await send(c.id, a.id, 'hi');
      expect(await env.store.social.presenceAudiences([a.id, b.id])).toEqual([[], []]);
      expect(await env.store.social.visibleTo(a.id, [b.id])).toEqual([]);
      expect(await env.store.social.visibleTo(b.id, [a.id])).toEqual([]);
      await env.store.conversations.acceptRequest(c.id, b.id);
      expect(await env.store.social.presenceAudiences([a.id, b.id])).toEqual([[b.id], [a.id]]);
      expect(await env.store.social.visibleTo(a.id, [b.id])).toEqual([b.id]);
    });

    it('records who created conversations, and when', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      const t0 = Date.now();
      await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, t0 - 5000);
      await env.store.conversations.createGroup(uid('c_'), 'G', a.id, [b.id, c.id], t0 - 3000);
      // Bob asking for the existing pair creates nothing.
      await env.store.conversations.getOrCreateDirect(uid('c_'), b.id, a.id, t0);
      await env.store.conversations.getOrCreateDirect(uid('c_'), b.id, c.id, t0 - 1000);
      expect(await env.store.conversations.createdSince(a.id, t0 - 10_000, 10)).toEqual([
        t0 - 5000,
        t0 - 3000,
      ]);
      expect(await env.store.conversations.createdSince(a.id, t0 - 4000, 10)).toEqual([t0 - 3000]);
      expect(await env.store.conversations.createdSince(a.id, t0 - 10_000, 1)).toEqual([t0 - 5000]);
      expect(await env.store.conversations.createdSince(b.id, t0 - 10_000, 10)).toEqual([t0 - 1000]);
      expect(await env.store.conversations.createdSince(c.id, t0 - 10_000, 10)).toEqual([]);
    });

    it('remembers the last decline of each pair, one way', async () => {
      const [a, b] = [await user(), await user()];
      expect(await env.store.social.declinedAt(a.id, b.id)).toBeNull();
      await env.store.social.recordDecline(a.id, b.id, 1000);
      await env.store.social.recordDecline(a.id, b.id, 2000);
      expect(await env.store.social.declinedAt(a.id, b.id)).toBe(2000);
      expect(await env.store.social.declinedAt(b.id, a.id)).toBeNull();
    });
  });
}
