/**
 * Store conformance for message actions: events take their own seq and feed position, the
 * rules refuse what they must, and history, lists and feeds show the folded state. Every
 * adapter must pass every test here.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '@parley/protocol';
import { buildPayload, notificationText } from '@parley/server';
import type { NewMessage } from '@parley/server';
import { selectedAdapters, storePerTest, newStoreUser } from '../../helpers/store-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;
const inSpaceZero = (pos: number) => new Map([[0, pos]]);

for (const adapter of selectedAdapters()) {
  describe(`store conformance, message actions: ${adapter.name}`, () => {
    const env = storePerTest(adapter);

    const user = () => newStoreUser(env.store);
    async function group(admin: string, members: string[]) {
      return env.store.conversations.createGroup(uid('g_'), 'g', admin, members, Date.now());
    }
    /** Append one message (extra fields: an action), returning its answer. */
    async function put(
      conversationId: string,
      senderId: string,
      text: string,
      extra: Partial<NewMessage> = {},
    ) {
      const [r] = await env.store.messages.appendMessages([
        { id: uid('m'), conversationId, senderId, clientId: uid('k'), text, createdAt: Date.now(), ...extra },
      ]);
      if (!r) throw new Error('no answer');
      return r;
    }
    async function seqOf(
      conversationId: string,
      senderId: string,
      text: string,
      extra: Partial<NewMessage> = {},
    ) {
      const r = await put(conversationId, senderId, text, extra);
      if (!r.ok) throw new Error(`append refused: ${r.code}`);
      return r.message;
    }
    const codeOf = async (p: ReturnType<typeof put>) => {
      const r = await p;
      return r.ok ? 'ok' : r.code;
    };
    async function page(conversationId: string, userId: string): Promise<Message[]> {
      const json = await env.store.messages.historyJson(conversationId, userId, { limit: 50 });
      return (JSON.parse(json ?? '{"messages":[]}') as { messages: Message[] }).messages;
    }
    async function feed(userId: string): Promise<Message[]> {
      return (await env.store.messages.readFeed(userId, inSpaceZero(0), 500)).messages;
    }

    it('stores an edit as an event with its own seq and folds the text into history', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const m1 = await seqOf(c.id, a.id, 'helo');
      const ed = await seqOf(c.id, a.id, 'hello', { kind: 'edit', target: m1.seq });
      expect(ed).toMatchObject({ kind: 'edit', target: m1.seq, seq: m1.seq + 1, text: 'hello' });
      expect(ed.pos).toBeGreaterThan(m1.pos);
      expect(await codeOf(put(c.id, b.id, 'no', { kind: 'edit', target: m1.seq }))).toBe('not_sender');
      const [h] = await page(c.id, b.id);
      expect(h).toMatchObject({ seq: m1.seq, text: 'hello', kind: 'text' });
      expect(h?.editedAt).toBeTypeOf('number');
      // Content only in history; the feed has the event too.
      expect((await page(c.id, b.id)).length).toBe(1);
      expect((await feed(b.id)).map((m) => m.kind)).toEqual(['text', 'edit']);
      expect((await env.store.messages.history(c.id, { limit: 10 })).messages.map((m) => m.seq)).toEqual([
        m1.seq,
      ]);
      // The conversation's list entry counts and shows content only.
      const s = await env.store.conversations.getConversationSummary(c.id, b.id);
      expect(s?.unread).toBe(1);
      expect(s?.lastMessage).toMatchObject({ seq: m1.seq, text: 'hello' });
    });

    it('deletes for everyone: a tombstone in order, the text of the target and its edits erased', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const m1 = await seqOf(c.id, a.id, 'secret one');
      await seqOf(c.id, a.id, 'secret two', { kind: 'edit', target: m1.seq });
      await seqOf(c.id, b.id, '👍', { kind: 'react', target: m1.seq });
      expect(await codeOf(put(c.id, b.id, '', { kind: 'delete', target: m1.seq }))).toBe('not_sender');
      await seqOf(c.id, a.id, '', { kind: 'delete', target: m1.seq });
      const m2 = await seqOf(c.id, b.id, 'after');
      const h = await page(c.id, b.id);
      expect(h.map((m) => [m.seq, m.text, m.deleted ?? false])).toEqual([
        [m1.seq, '', true],
        [m2.seq, 'after', false],
      ]);
      expect(h[0]?.reactions).toBeUndefined();
      const texts = (await feed(a.id)).map((m) => m.text).join('|');
      expect(texts).not.toContain('secret');
      expect(await codeOf(put(c.id, a.id, 'again', { kind: 'edit', target: m1.seq }))).toBe(
        'message_deleted',
      );
    });

    it('lets a group admin delete for everyone and pin; members may not pin', async () => {
      const [a, b, d] = [await user(), await user(), await user()];
      const g = await group(a.id, [b.id, d.id]);
      const m = await seqOf(g.id, b.id, 'hi');
      expect(await codeOf(put(g.id, d.id, '', { kind: 'delete', target: m.seq }))).toBe('not_sender');
      expect(await codeOf(put(g.id, b.id, '', { kind: 'pin', target: m.seq }))).toBe('forbidden');
      await seqOf(g.id, a.id, '', { kind: 'pin', target: m.seq });
      expect((await env.store.messages.pinned(g.id, d.id)).map((x) => x.seq)).toEqual([m.seq]);
      await seqOf(g.id, a.id, '', { kind: 'unpin', target: m.seq });
      expect(await env.store.messages.pinned(g.id, d.id)).toEqual([]);
      await seqOf(g.id, a.id, '', { kind: 'delete', target: m.seq });
      expect((await page(g.id, d.id))[0]).toMatchObject({ deleted: true, text: '' });
    });

    it('counts reactions per emoji, one per user, and takes them back', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const m = await seqOf(c.id, a.id, 'x');
      await seqOf(c.id, a.id, '❤️', { kind: 'react', target: m.seq });
      await seqOf(c.id, b.id, '❤️', { kind: 'react', target: m.seq });
      await seqOf(c.id, b.id, '❤️', { kind: 'react', target: m.seq });
      await seqOf(c.id, b.id, '😂', { kind: 'react', target: m.seq });
      expect((await page(c.id, a.id))[0]?.reactions).toEqual([
        { emoji: '❤️', count: 2, userIds: [a.id, b.id] },
        { emoji: '😂', count: 1, userIds: [b.id] },
      ]);
      await seqOf(c.id, b.id, '❤️', { kind: 'unreact', target: m.seq });
      expect((await page(c.id, a.id))[0]?.reactions).toEqual([
        { emoji: '❤️', count: 1, userIds: [a.id] },
        { emoji: '😂', count: 1, userIds: [b.id] },
      ]);
    });

    it('carries a reply snippet that follows the target, and refuses unknown or event targets', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const m = await seqOf(c.id, a.id, 'q'.repeat(300));
      const r = await seqOf(c.id, b.id, 'answer', { replyTo: m.seq });
      expect(r.replyTo).toEqual({ seq: m.seq, senderId: a.id, text: 'q'.repeat(200) });
      const ed = await seqOf(c.id, a.id, 'short', { kind: 'edit', target: m.seq });
      expect((await page(c.id, b.id)).find((x) => x.seq === r.seq)?.replyTo?.text).toBe('short');
      expect(await codeOf(put(c.id, b.id, 'x', { replyTo: 999 }))).toBe('not_found');
      expect(await codeOf(put(c.id, b.id, 'x', { replyTo: ed.seq }))).toBe('not_found');
      await seqOf(c.id, a.id, '', { kind: 'delete', target: m.seq });
      expect((await page(c.id, b.id)).find((x) => x.seq === r.seq)?.replyTo).toEqual({
        seq: m.seq,
        senderId: a.id,
        text: '',
        deleted: true,
      });
    });

    it('keeps hide and save to their author: only their feed, history and lists', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const m1 = await seqOf(c.id, a.id, 'one');
      const m2 = await seqOf(c.id, a.id, 'two');
      const hide = await put(c.id, b.id, '', { kind: 'hide', target: m1.seq });
      expect(hide.ok && hide.recipients).toEqual([b.id]);
      await seqOf(c.id, b.id, '', { kind: 'save', target: m2.seq });
      expect((await page(c.id, b.id)).map((m) => [m.seq, m.saved ?? false])).toEqual([[m2.seq, true]]);
      expect((await page(c.id, a.id)).map((m) => [m.seq, m.saved ?? false])).toEqual([
        [m1.seq, false],
        [m2.seq, false],
      ]);
      expect((await feed(a.id)).map((m) => m.kind)).toEqual(['text', 'text']);
      expect((await feed(b.id)).map((m) => m.kind)).toEqual(['text', 'text', 'hide', 'save']);
      expect(await env.store.messages.messageAt(c.id, m1.seq, b.id)).toBeNull();
      expect(await env.store.messages.messageAt(c.id, m1.seq, a.id)).toMatchObject({ text: 'one' });
      expect((await env.store.messages.savedOf(b.id, { limit: 10 })).messages.map((m) => m.seq)).toEqual([
        m2.seq,
      ]);
      expect((await env.store.messages.savedOf(a.id, { limit: 10 })).messages).toEqual([]);
      await seqOf(c.id, b.id, '', { kind: 'unsave', target: m2.seq });
      expect((await env.store.messages.savedOf(b.id, { limit: 10 })).messages).toEqual([]);
    });

    it('lists mentions newest first in pages, and not to a member who joined later', async () => {
      const [a, b, d] = [await user(), await user(), await user()];
      const g = await group(a.id, [b.id]);
      const m1 = await seqOf(g.id, a.id, 'hey @b', { mentions: [b.id] });
      const m2 = await seqOf(g.id, a.id, 'again @b', { mentions: [b.id] });
      const first = await env.store.messages.mentionsOf(b.id, { limit: 1 });
      expect(first.messages.map((m) => [m.seq, m.mentions])).toEqual([[m2.seq, [b.id]]]);
      expect(first.next).toBeTypeOf('string');
      const second = await env.store.messages.mentionsOf(b.id, { before: first.next as string, limit: 1 });
      expect(second.messages.map((m) => m.seq)).toEqual([m1.seq]);
      expect(second.next).toBeUndefined();
      expect((await env.store.messages.mentionsOf(d.id, { limit: 10 })).messages).toEqual([]);
      // A later member cannot act on what came before they joined.
      await env.store.conversations.addMembers(g.id, [d.id], 100, Date.now());
      expect(await codeOf(put(g.id, d.id, '👍', { kind: 'react', target: m1.seq }))).toBe('not_found');
    });

    it('replaces mentions on edit: newly named members listed as of the edit, dropped ones not', async () => {
      const [a, b, x, y] = [await user(), await user(), await user(), await user()];
      const g = await group(a.id, [b.id, x.id, y.id]);
      const t = Date.now();
      const listed = async (u: string) =>
        (await env.store.messages.mentionsOf(u, { limit: 10 })).messages.map((m) => [m.seq, m.text]);
      const m1 = await seqOf(g.id, a.id, 'hey @b @x', { mentions: [b.id, x.id], createdAt: t });
      const m2 = await seqOf(g.id, a.id, 'and @x @y', { mentions: [x.id, y.id], createdAt: t + 1 });
      const ed = await seqOf(g.id, a.id, 'hey @x @y', {
        kind: 'edit',
        target: m1.seq,
        mentions: [x.id, y.id],
        createdAt: t + 2,
      });
      expect(ed.mentions).toEqual([x.id, y.id]);
      expect(await listed(b.id)).toEqual([]);
      // x stays mentioned since the message came; y is mentioned as of the edit.
      expect(await listed(x.id)).toEqual([
        [m2.seq, 'and @x @y'],
        [m1.seq, 'hey @x @y'],
      ]);
      expect(await listed(y.id)).toEqual([
        [m1.seq, 'hey @x @y'],
        [m2.seq, 'and @x @y'],
      ]);
      expect((await page(g.id, b.id)).map((m) => [m.seq, m.mentions])).toEqual([
        [m1.seq, [x.id, y.id]],
        [m2.seq, [x.id, y.id]],
      ]);
      expect((await env.store.messages.messageAt(g.id, m1.seq, x.id))?.mentions).toEqual([x.id, y.id]);
      // An edit that names no one clears them all; the message's other state stays.
      await seqOf(g.id, a.id, 'hey all', { kind: 'edit', target: m1.seq, createdAt: t + 3 });
      for (const u of [b.id, x.id, y.id]) expect((await listed(u)).map(([seq]) => seq)).not.toContain(m1.seq);
      const [h1] = await page(g.id, x.id);
      expect(h1).toMatchObject({ seq: m1.seq, text: 'hey all' });
      expect(h1?.mentions).toBeUndefined();
      // Naming a member again lists them again.
      await seqOf(g.id, a.id, 'hey @b', { kind: 'edit', target: m1.seq, mentions: [b.id], createdAt: t + 4 });
      expect(await listed(b.id)).toEqual([[m1.seq, 'hey @b']]);
    });

    it('answers a resend of an action as the original, and a non-member as not found', async () => {
      const [a, b, x] = [await user(), await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const m = await seqOf(c.id, a.id, 'hi');
      const ev: NewMessage = {
        id: uid('m'),
        conversationId: c.id,
        senderId: a.id,
        clientId: uid('k'),
        text: '',
        createdAt: Date.now(),
        kind: 'delete',
        target: m.seq,
      };
      const [first] = await env.store.messages.appendMessages([ev]);
      const [again] = await env.store.messages.appendMessages([{ ...ev, id: uid('m') }]);
      expect(first?.ok && again?.ok && again.duplicate && again.message.seq === first.message.seq).toBe(true);
      expect(await codeOf(put(c.id, x.id, '👍', { kind: 'react', target: m.seq }))).toBe('not_found');
    });

    it('counts unread messages, not events, for the list and for a push ("2 new messages")', async () => {
      const [a, b, x] = [await user(), await user(), await user()];
      const g = await group(a.id, [b.id, x.id]);
      await env.store.push.savePushSubscription({
        id: uid('s_'),
        userId: b.id,
        deviceId: uid('d_'),
        kind: 'fcm',
        address: uid('tok'),
        p256dh: null,
        auth: null,
        createdAt: Date.now(),
      });
      const m0 = await seqOf(g.id, a.id, 'read already');
      await env.store.messages.setReadSeq(g.id, b.id, m0.seq);
      const m1 = await seqOf(g.id, a.id, 'one');
      const m2 = await seqOf(g.id, x.id, 'two');
      await seqOf(g.id, x.id, '👍', { kind: 'react', target: m1.seq });
      await seqOf(g.id, a.id, '🎉', { kind: 'react', target: m1.seq });
      await seqOf(g.id, x.id, '😀', { kind: 'react', target: m2.seq });
      const last = await seqOf(g.id, a.id, 'one, edited', { kind: 'edit', target: m1.seq });
      expect(last.seq - m0.seq).toBe(6);
      const targets = (upToSeq: number) =>
        env.store.push.pushTargets([{ conversationId: g.id, userIds: [b.id], upToSeq }], Date.now());
      const counts = async (upToSeq: number) =>
        (await targets(upToSeq)).map((t) => [t.userId, t.readSeq, t.unread]);
      expect(await counts(last.seq)).toEqual([[b.id, m0.seq, 2]]);
      // Up to a seq: a later message does not count.
      expect(await counts(m1.seq)).toEqual([[b.id, m0.seq, 1]]);
      expect((await env.store.conversations.getConversationSummary(g.id, b.id))?.unread).toBe(2);
      const [t] = await targets(last.seq);
      const payload = buildPayload({
        conversationId: g.id,
        conversationName: 'g',
        kind: 'group',
        messageId: m2.id,
        seq: m2.seq,
        senderId: x.id,
        senderName: 'Xu',
        text: m2.text,
        createdAt: m2.createdAt,
        unread: t?.unread ?? 0,
        showText: true,
      });
      expect(notificationText(payload).body).toBe('2 new messages\nXu: two');
      // A message deleted for everyone is not waiting any more.
      const m3 = await seqOf(g.id, a.id, 'deleted soon');
      const m4 = await seqOf(g.id, x.id, 'three');
      await seqOf(g.id, a.id, '', { kind: 'delete', target: m3.seq });
      expect(await counts(m4.seq + 10)).toEqual([[b.id, m0.seq, 3]]);
      expect((await env.store.conversations.getConversationSummary(g.id, b.id))?.unread).toBe(3);
      // Whatever I send, an event too, reads what came before it.
      await seqOf(g.id, b.id, '', { kind: 'hide', target: m4.seq });
      expect((await env.store.conversations.getConversationSummary(g.id, b.id))?.unread).toBe(0);
    });

    it('drops and blanks the pending push jobs of a message', async () => {
      const [a, b] = [await user(), await user()];
      const sub = {
        id: uid('s_'),
        userId: b.id,
        deviceId: uid('d_'),
        kind: 'fcm' as const,
        address: uid('tok'),
        p256dh: null,
        auth: null,
        createdAt: Date.now(),
      };
      await env.store.push.savePushSubscription(sub);
      const job = {
        subscriptionId: sub.id,
        userId: b.id,
        payload: '{"text":"secret"}',
        createdAt: Date.now(),
      };
      await env.store.push.enqueuePushJobs([
        { ...job, messageId: 'm-gone' },
        { ...job, messageId: 'm-kept' },
      ]);
      expect(await env.store.push.dropMessagePushJobs('m-gone')).toBe(1);
      expect(await env.store.push.dropMessagePushJobs('m-gone')).toBe(0);
      const claimed = await env.store.push.claimPushJobs(Date.now() + 1000, 10, 60_000);
      expect(claimed.map((j) => j.messageId)).toEqual(['m-kept']);
      // Queued after the delete (a push buffer flushing late): not queued at all.
      expect(
        await env.store.push.enqueuePushJobs([{ ...job, subscriptionId: sub.id, messageId: 'm-gone' }]),
      ).toBe(0);
      expect(await env.store.push.enqueuePushJobs([{ ...job, messageId: 'm-late' }])).toBe(1);
      void a;
    });
  });
}
