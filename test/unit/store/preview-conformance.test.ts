/**
 * Store conformance for link previews: a content message keeps the preview it was sent with
 * in the append's answer, history, the feed and `messageAt`; an edit drops it (the URL may
 * have changed) and a delete for everyone clears it. Every adapter must pass every test here.
 */
import { describe, expect, it } from 'vitest';
import type { LinkPreview, Message } from '@parley/protocol';
import type { NewMessage } from '@parley/server';
import { selectedAdapters, storePerTest, newStoreUser } from '../../helpers/store-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;
const inSpaceZero = (pos: number) => new Map([[0, pos]]);
const PREVIEW: LinkPreview = {
  url: 'https://example.com/a',
  title: 'A <b>page</b> "quoted"',
  description: 'What it says',
  siteName: 'Example',
};

for (const adapter of selectedAdapters()) {
  describe(`store conformance, link previews: ${adapter.name}`, () => {
    const env = storePerTest(adapter);

    const user = () => newStoreUser(env.store);
    async function put(
      conversationId: string,
      senderId: string,
      text: string,
      extra: Partial<NewMessage> = {},
    ) {
      const [r] = await env.store.messages.appendMessages([
        { id: uid('m'), conversationId, senderId, clientId: uid('k'), text, createdAt: Date.now(), ...extra },
      ]);
      if (!r?.ok) throw new Error(`append refused: ${r?.ok === false ? r.code : 'none'}`);
      return r.message;
    }
    async function page(conversationId: string, userId: string): Promise<Message[]> {
      const json = await env.store.messages.historyJson(conversationId, userId, { limit: 50 });
      return (JSON.parse(json ?? '{"messages":[]}') as { messages: Message[] }).messages;
    }
    async function feed(userId: string): Promise<Message[]> {
      return (await env.store.messages.readFeed(userId, inSpaceZero(0), 500)).messages;
    }
    async function direct() {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      return { a, b, c };
    }

    it('keeps a preview through the answer, history, the feed and messageAt', async () => {
      const { a, b, c } = await direct();
      const m = await put(c.id, a.id, 'see https://example.com/a', { preview: PREVIEW });
      const plain = await put(c.id, a.id, 'no preview https://example.com/b');
      expect(m.preview).toEqual(PREVIEW);
      expect(plain.preview).toBeUndefined();
      const h = await page(c.id, b.id);
      expect(h.map((x) => x.preview ?? null)).toEqual([PREVIEW, null]);
      const f = (await feed(b.id)).filter((x) => x.conversationId === c.id);
      expect(f.map((x) => x.preview ?? null)).toEqual([PREVIEW, null]);
      expect((await env.store.messages.messageAt(c.id, m.seq, b.id))?.preview).toEqual(PREVIEW);
      expect((await env.store.messages.history(c.id, { limit: 10 })).messages[0]?.preview).toEqual(PREVIEW);
    });

    it('drops the preview on an edit and clears it on a delete for everyone', async () => {
      const { a, b, c } = await direct();
      const edited = await put(c.id, a.id, 'see https://example.com/a', { preview: PREVIEW });
      const deleted = await put(c.id, a.id, 'and https://example.com/a', { preview: PREVIEW });
      await put(c.id, a.id, 'see https://example.org/', { kind: 'edit', target: edited.seq });
      await put(c.id, a.id, '', { kind: 'delete', target: deleted.seq });
      const h = await page(c.id, b.id);
      expect(h.map((x) => [x.seq, x.text, x.preview ?? null])).toEqual([
        [edited.seq, 'see https://example.org/', null],
        [deleted.seq, '', null],
      ]);
      const content = (await feed(b.id)).filter((x) => x.kind === 'text');
      expect(content.map((x) => x.preview ?? null)).toEqual([null, null]);
    });
  });
}
