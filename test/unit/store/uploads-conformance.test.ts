/**
 * Store conformance for uploads: records, quota usage, claims for a message (all or none,
 * idempotent for a resend, exclusive otherwise), detaching on delete, stale uploads, and who
 * may read an upload (the feed's rule on the message it is attached to).
 */
import { describe, expect, it } from 'vitest';
import type { Attachment } from '@parley/protocol';
import { selectedAdapters, storePerTest } from '../../helpers/store-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;
const NOW = Date.UTC(2030, 0, 1);

for (const adapter of selectedAdapters()) {
  describe(`store conformance, uploads: ${adapter.name}`, () => {
    const env = storePerTest(adapter);

    async function user() {
      const name = uid('u');
      const u = { id: uid('u_'), username: name, displayName: name, passwordHash: 'h', createdAt: NOW };
      await env.store.accounts.createUser(u);
      return u.id;
    }
    /** A finished upload of `userId`; returns its attachment. */
    async function upload(userId: string, size = 100, name = 'photo.jpg', at = NOW): Promise<Attachment> {
      const id = uid('up');
      await env.store.uploads.createUpload({ id, userId, name, size: size + 50, createdAt: at });
      const a: Attachment = {
        id,
        kind: 'image',
        name,
        size,
        mime: 'image/jpeg',
        width: 4,
        height: 3,
        thumbnail: true,
      };
      await env.store.uploads.finishUpload(id, a);
      return a;
    }
    async function send(
      conversationId: string,
      senderId: string,
      clientId: string,
      attachments: Attachment[],
    ) {
      const [r] = await env.store.messages.appendMessages([
        { id: uid('m'), conversationId, senderId, clientId, text: '', createdAt: NOW, attachments },
      ]);
      if (!r?.ok) throw new Error(`append failed: ${r?.ok === false ? r.code : 'none'}`);
      return r;
    }

    it('records an upload, its processed attachment and the quota usage', async () => {
      const a = await user();
      const id = uid('up');
      await env.store.uploads.createUpload({ id, userId: a, name: 'x.bin', size: 1000, createdAt: NOW });
      expect(await env.store.uploads.getUpload(id)).toEqual({
        id,
        userId: a,
        name: 'x.bin',
        size: 1000,
        createdAt: NOW,
        attachment: null,
        conversationId: null,
        clientId: null,
      });
      expect(await env.store.uploads.uploadUsage(a)).toBe(1000);
      const att = await upload(a, 300);
      expect((await env.store.uploads.getUpload(att.id))?.attachment).toEqual(att);
      // The finished one counts its stored size, the unfinished its declared one.
      expect(await env.store.uploads.uploadUsage(a)).toBe(1300);
      expect(await env.store.uploads.uploadUsage(await user())).toBe(0);
      expect(await env.store.uploads.getUpload('nope')).toBeNull();
      await env.store.uploads.deleteUpload(id);
      expect(await env.store.uploads.getUpload(id)).toBeNull();
      expect(await env.store.uploads.uploadUsage(a)).toBe(300);
    });

    it('claims all or none, again for the same message, never for another', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a, b, NOW);
      const [x, y] = [await upload(a), await upload(a)];
      const theirs = await upload(b);
      const unfinished = uid('up');
      await env.store.uploads.createUpload({ id: unfinished, userId: a, name: 'u', size: 1, createdAt: NOW });

      expect(await env.store.uploads.claimUploads(a, c.id, 'k1', [x.id, theirs.id])).toEqual({
        ok: false,
        uploadId: theirs.id,
      });
      expect(await env.store.uploads.claimUploads(a, c.id, 'k1', [x.id, unfinished])).toEqual({
        ok: false,
        uploadId: unfinished,
      });
      // Nothing of a refused claim stays claimed.
      expect((await env.store.uploads.getUpload(x.id))?.conversationId).toBeNull();

      expect(await env.store.uploads.claimUploads(a, c.id, 'k1', [y.id, x.id])).toEqual({
        ok: true,
        attachments: [y, x],
      });
      expect(await env.store.uploads.claimUploads(a, c.id, 'k1', [x.id])).toEqual({
        ok: true,
        attachments: [x],
      });
      expect(await env.store.uploads.claimUploads(a, c.id, 'k2', [x.id])).toEqual({
        ok: false,
        uploadId: x.id,
      });
      expect(await env.store.uploads.getUpload(x.id)).toMatchObject({ conversationId: c.id, clientId: 'k1' });

      await env.store.uploads.releaseUploads(a, c.id, 'k1');
      expect(await env.store.uploads.claimUploads(a, c.id, 'k2', [x.id])).toEqual({
        ok: true,
        attachments: [x],
      });
    });

    it('stores the attachments with the message, in history, feed and a duplicate answer', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a, b, NOW);
      const att = await upload(a, 10, 'holiday.jpg');
      const r = await send(c.id, a, 'k1', [att]);
      expect(r.message).toMatchObject({ text: '', attachments: [att] });
      const again = await send(c.id, a, 'k1', [att]);
      expect(again).toMatchObject({ duplicate: true, message: { seq: r.message.seq, attachments: [att] } });
      const { messages } = await env.store.messages.history(c.id, { limit: 10 });
      expect(messages.map((m) => m.attachments)).toEqual([[att]]);
      const json = JSON.parse((await env.store.messages.historyJson(c.id, b, { limit: 10 })) ?? 'null') as {
        messages: { attachments?: Attachment[] }[];
      };
      expect(json.messages.map((m) => m.attachments)).toEqual([[att]]);
      const feed = await env.store.messages.readFeed(b, new Map(), 10);
      expect(feed.messages.find((m) => m.seq === r.message.seq)?.attachments).toEqual([att]);
      // The file name is found with the caption.
      const found = await env.store.search.search(
        b,
        { text: 'holiday' },
        { offset: 0, limit: 10, asOf: NOW + 1 },
      );
      expect(found.hits.map((h) => [h.message.seq, h.message.attachments])).toEqual([[r.message.seq, [att]]]);
      // An edit of the caption keeps the names searchable.
      const [edit] = await env.store.messages.appendMessages([
        {
          id: uid('m'),
          conversationId: c.id,
          senderId: a,
          clientId: uid('k'),
          text: 'the beach',
          createdAt: NOW,
          kind: 'edit',
          target: r.message.seq,
        },
      ]);
      expect(edit?.ok).toBe(true);
      for (const q of ['holiday', 'beach']) {
        const hits = await env.store.search.search(b, { text: q }, { offset: 0, limit: 10, asOf: NOW + 1 });
        expect(
          hits.hits.map((h) => h.message.seq),
          q,
        ).toEqual([r.message.seq]);
      }
    });

    it('lets the uploader and whoever sees the message read an upload, and nobody else', async () => {
      const [a, b, late, other] = [await user(), await user(), await user(), await user()];
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a, [b], NOW);
      const att = await upload(a);
      expect(await env.store.uploads.canReadUpload(a, att.id)).toBe(true);
      expect(await env.store.uploads.canReadUpload(b, att.id)).toBe(false);
      await env.store.uploads.claimUploads(a, g.id, 'k1', [att.id]);
      // Claimed, not yet sent: still only the uploader.
      expect(await env.store.uploads.canReadUpload(b, att.id)).toBe(false);
      await send(g.id, a, 'k1', [att]);
      expect(await env.store.uploads.canReadUpload(b, att.id)).toBe(true);
      expect(await env.store.uploads.canReadUpload(other, att.id)).toBe(false);
      await env.store.conversations.addMembers(g.id, [late], 100, NOW);
      // Joined after it: not in their feed.
      expect(await env.store.uploads.canReadUpload(late, att.id)).toBe(false);
      await env.store.conversations.removeMember(g.id, b, { by: null });
      // A former member keeps what they saw.
      expect(await env.store.uploads.canReadUpload(b, att.id)).toBe(true);
      expect(await env.store.uploads.canReadUpload(a, 'nope')).toBe(false);
    });

    it('detaches a deleted message’s uploads, which become stale; unattached old uploads are stale', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a, b, NOW);
      const old = await upload(a, 1, 'old', NOW - 10_000);
      const fresh = await upload(a, 1, 'fresh', NOW);
      const sent = await upload(a, 1, 'sent', NOW - 10_000);
      await env.store.uploads.claimUploads(a, c.id, 'k1', [sent.id]);
      const r = await send(c.id, a, 'k1', [sent]);
      expect(await env.store.uploads.staleUploads(NOW - 1, 10)).toEqual([old.id]);

      const [del] = await env.store.messages.appendMessages([
        {
          id: uid('m'),
          conversationId: c.id,
          senderId: a,
          clientId: 'k2',
          text: '',
          createdAt: NOW,
          kind: 'delete',
          target: r.message.seq,
        },
      ]);
      expect(del?.ok).toBe(true);
      expect(await env.store.uploads.canReadUpload(b, sent.id)).toBe(false);
      const { messages } = await env.store.messages.history(c.id, { limit: 10 });
      expect(messages[0]).toMatchObject({ deleted: true });
      expect(messages[0]?.attachments).toBeUndefined();

      expect(await env.store.uploads.detachUploads(a, c.id, 'k1')).toEqual([sent.id]);
      // Never attachable again.
      expect(await env.store.uploads.claimUploads(a, c.id, 'k3', [sent.id])).toEqual({
        ok: false,
        uploadId: sent.id,
      });
      expect((await env.store.uploads.staleUploads(NOW - 1, 10)).sort()).toEqual([old.id, sent.id].sort());
      expect(await env.store.uploads.staleUploads(NOW - 1, 1)).toHaveLength(1);
      expect((await env.store.uploads.staleUploads(NOW + 1, 10)).sort()).toEqual(
        [old.id, sent.id, fresh.id].sort(),
      );
    });
  });
}
