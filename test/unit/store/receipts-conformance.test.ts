/**
 * Store conformance for receipts: read and delivered cursors move only forward, never past
 * the conversation's last seq, for members only. Every adapter must pass every test here.
 */
import { describe, expect, it } from 'vitest';
import type { Store } from '@parley/server';
import { selectedAdapters, storePerTest, newStoreUser } from '../../helpers/store-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;
type CursorRow = Awaited<ReturnType<Store['messages']['setDeliveredSeqs']>>[number];
const byKey = (rows: CursorRow[]) =>
  [...rows].sort((x, y) => (`${x.conversationId} ${x.userId}` < `${y.conversationId} ${y.userId}` ? -1 : 1));

for (const adapter of selectedAdapters()) {
  describe(`store conformance, receipts: ${adapter.name}`, () => {
    const env = storePerTest(adapter);

    const user = () => newStoreUser(env.store);
    async function send(conversationId: string, senderId: string, count = 1) {
      const results = await env.store.messages.appendMessages(
        Array.from({ length: count }, () => {
          const clientId = uid('k');
          return { id: uid('m'), conversationId, senderId, clientId, text: clientId, createdAt: Date.now() };
        }),
      );
      for (const r of results) if (!r.ok) throw new Error(`append failed: ${r.code}`);
    }

    it('moves a read cursor only forward, never past the last seq, and returns it', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      // Nothing to read yet: the cursor stays at 0 whatever is asked.
      expect(await env.store.messages.setReadSeq(c.id, b.id, 5)).toBe(0);
      await send(c.id, a.id, 4);
      expect(await env.store.messages.setReadSeq(c.id, b.id, 2)).toBe(2);
      expect(await env.store.messages.setReadSeq(c.id, b.id, 2)).toBe(2);
      expect(await env.store.messages.setReadSeq(c.id, b.id, 1)).toBe(2);
      expect(await env.store.messages.setReadSeq(c.id, b.id, 0)).toBe(2);
      expect(await env.store.messages.setReadSeq(c.id, b.id, 1_000)).toBe(4);
      expect((await env.store.conversations.getMember(c.id, b.id))?.readSeq).toBe(4);
      // Each member has their own cursor: the sender's own messages are read by them.
      expect((await env.store.conversations.getMember(c.id, a.id))?.readSeq).toBe(4);
      await send(c.id, a.id, 2);
      expect(await env.store.messages.setReadSeq(c.id, b.id, 5)).toBe(5);
      expect((await env.store.conversations.getConversationSummary(c.id, b.id))?.readSeq).toBe(5);
    });

    it('moves no read cursor for a non-member or an unknown conversation', async () => {
      const [a, b, x] = [await user(), await user(), await user()];
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [b.id], Date.now());
      await send(g.id, a.id, 3);
      await env.store.messages.setReadSeq(g.id, x.id, 2);
      expect(await env.store.conversations.getMember(g.id, x.id)).toBeNull();
      await env.store.messages.setReadSeq('c_unknown', b.id, 2);
      expect(await env.store.conversations.getMember('c_unknown', b.id)).toBeNull();
      expect((await env.store.conversations.getMember(g.id, b.id))?.readSeq).toBe(0);
    });

    it('moves delivered cursors forward and returns exactly the cursors that moved', async () => {
      const [a, b, x] = [await user(), await user(), await user()];
      const ab = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [b.id, x.id], Date.now());
      await send(ab.id, a.id, 3);
      await send(g.id, a.id, 2);
      const moved = await env.store.messages.setDeliveredSeqs([
        { conversationId: ab.id, userId: b.id, seq: 2 },
        { conversationId: g.id, userId: b.id, seq: 1 },
        { conversationId: g.id, userId: x.id, seq: 2 },
      ]);
      expect(byKey(moved)).toEqual(
        byKey([
          { conversationId: ab.id, userId: b.id, deliveredSeq: 2, readSeq: 0 },
          { conversationId: g.id, userId: b.id, deliveredSeq: 1, readSeq: 0 },
          { conversationId: g.id, userId: x.id, deliveredSeq: 2, readSeq: 0 },
        ]),
      );
      expect((await env.store.conversations.getMember(ab.id, b.id))?.deliveredSeq).toBe(2);
      expect((await env.store.conversations.getMember(g.id, x.id))?.deliveredSeq).toBe(2);
      // Backwards or standing still moves nothing and returns nothing.
      expect(
        await env.store.messages.setDeliveredSeqs([
          { conversationId: ab.id, userId: b.id, seq: 1 },
          { conversationId: ab.id, userId: b.id, seq: 2 },
          { conversationId: g.id, userId: x.id, seq: 0 },
        ]),
      ).toEqual([]);
      expect((await env.store.conversations.getMember(ab.id, b.id))?.deliveredSeq).toBe(2);
      // Only the one that moves comes back, with the other cursor as stored.
      await env.store.messages.setReadSeq(g.id, b.id, 1);
      expect(
        await env.store.messages.setDeliveredSeqs([
          { conversationId: ab.id, userId: b.id, seq: 2 },
          { conversationId: g.id, userId: b.id, seq: 2 },
        ]),
      ).toEqual([{ conversationId: g.id, userId: b.id, deliveredSeq: 2, readSeq: 1 }]);
      expect(await env.store.messages.setDeliveredSeqs([])).toEqual([]);
    });

    it('never moves a delivered cursor past the last seq', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      // Nothing sent yet: there is nothing to have received.
      expect(
        await env.store.messages.setDeliveredSeqs([{ conversationId: c.id, userId: b.id, seq: 3 }]),
      ).toEqual([]);
      expect((await env.store.conversations.getMember(c.id, b.id))?.deliveredSeq).toBe(0);
      await send(c.id, a.id, 2);
      expect(
        await env.store.messages.setDeliveredSeqs([{ conversationId: c.id, userId: b.id, seq: 99 }]),
      ).toEqual([{ conversationId: c.id, userId: b.id, deliveredSeq: 2, readSeq: 0 }]);
      expect((await env.store.conversations.getMember(c.id, b.id))?.deliveredSeq).toBe(2);
      // At the last seq already: asking for more moves nothing.
      expect(
        await env.store.messages.setDeliveredSeqs([{ conversationId: c.id, userId: b.id, seq: 99 }]),
      ).toEqual([]);
      await send(c.id, a.id);
      expect(
        await env.store.messages.setDeliveredSeqs([{ conversationId: c.id, userId: b.id, seq: 99 }]),
      ).toEqual([{ conversationId: c.id, userId: b.id, deliveredSeq: 3, readSeq: 0 }]);
    });

    it('ignores delivered cursors of non-members and unknown conversations', async () => {
      const [a, b, x] = [await user(), await user(), await user()];
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [b.id, x.id], Date.now());
      await send(g.id, a.id, 2);
      await env.store.conversations.removeMember(g.id, x.id);
      const moved = await env.store.messages.setDeliveredSeqs([
        { conversationId: g.id, userId: x.id, seq: 2 },
        { conversationId: g.id, userId: 'u_nobody', seq: 2 },
        { conversationId: 'c_unknown', userId: b.id, seq: 2 },
        { conversationId: g.id, userId: b.id, seq: 2 },
      ]);
      expect(moved).toEqual([{ conversationId: g.id, userId: b.id, deliveredSeq: 2, readSeq: 0 }]);
      expect(await env.store.conversations.getMember(g.id, x.id)).toBeNull();
      expect(await env.store.conversations.getMember(g.id, 'u_nobody')).toBeNull();
    });

    it('shows a direct peer’s cursors in the summary, and none for a group', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [b.id], Date.now());
      await send(c.id, a.id, 3);
      await send(g.id, a.id, 3);
      await env.store.messages.setDeliveredSeqs([
        { conversationId: c.id, userId: b.id, seq: 3 },
        { conversationId: g.id, userId: b.id, seq: 3 },
      ]);
      await env.store.messages.setReadSeq(c.id, b.id, 2);
      expect(await env.store.conversations.getConversationSummary(c.id, a.id)).toMatchObject({
        peerId: b.id,
        peerDeliveredSeq: 3,
        peerReadSeq: 2,
      });
      expect(await env.store.conversations.getConversationSummary(g.id, a.id)).toMatchObject({
        peerId: null,
        peerDeliveredSeq: null,
        peerReadSeq: null,
      });
    });
  });
}
