/**
 * Store conformance for search: what a user finds (only what they could see, in their
 * membership's stretches), in which order, with which highlights, filters and pages. Every
 * adapter must answer every query here alike.
 */
import { describe, expect, it } from 'vitest';
import type { SearchPageRequest, SearchQuery } from '@parley/server';
import { selectedAdapters, storePerTest } from '../../helpers/store-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;
const DAY = 24 * 3600 * 1000;
const NOW = Date.UTC(2030, 0, 1);
const page = (over: Partial<SearchPageRequest> = {}): SearchPageRequest => ({
  offset: 0,
  limit: 20,
  asOf: NOW,
  ...over,
});

for (const adapter of selectedAdapters()) {
  describe(`store conformance, search: ${adapter.name}`, () => {
    const env = storePerTest(adapter);

    async function user() {
      const name = uid('u');
      const u = { id: uid('u_'), username: name, displayName: name, passwordHash: 'h', createdAt: NOW };
      await env.store.accounts.createUser(u);
      return u.id;
    }
    /** Append texts one by one; returns their seqs. */
    async function send(conversationId: string, senderId: string, texts: string[], at = NOW - DAY) {
      const seqs: number[] = [];
      for (const text of texts) {
        const [r] = await env.store.messages.appendMessages([
          { id: uid('m'), conversationId, senderId, clientId: uid('k'), text, createdAt: at },
        ]);
        if (!r?.ok) throw new Error(`append failed: ${r?.ok === false ? r.code : 'none'}`);
        seqs.push(r.message.seq);
      }
      return seqs;
    }
    async function find(userId: string, q: string | SearchQuery, p: Partial<SearchPageRequest> = {}) {
      const query = typeof q === 'string' ? { text: q } : q;
      return env.store.search.search(userId, query, page(p));
    }
    const texts = async (userId: string, q: string | SearchQuery) =>
      (await find(userId, q)).hits.map((h) => h.message.text);

    it('finds messages by word, whatever the case and accents, with highlights in the original text', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a, b, NOW);
      await send(c.id, a, ['Meet me at the Café Crème', 'nothing to see', 'CAFE au lait?']);
      const page1 = await find(b, 'cafe');
      expect(page1.hits.map((h) => h.message.text).sort()).toEqual([
        'CAFE au lait?',
        'Meet me at the Café Crème',
      ]);
      const hit = page1.hits.find((h) => h.message.text.startsWith('Meet'));
      expect(hit?.highlights).toEqual([[15, 19]]);
      expect(hit?.message.conversationId).toBe(c.id);
      expect(hit?.message.seq).toBe(1);
      expect(await texts(b, 'CRÈME')).toEqual(['Meet me at the Café Crème']);
      // Every word must match; the last one also as a prefix.
      expect(await texts(a, 'meet caf')).toEqual(['Meet me at the Café Crème']);
      expect(await texts(a, 'meet lait')).toEqual([]);
      expect(await texts(a, 'zebra')).toEqual([]);
      // No word at all: no hit.
      expect(await texts(a, '  ?! ')).toEqual([]);
    });

    it('finds an edited message by its new text only, and a deleted one no more', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a, b, NOW);
      const [seq] = await send(c.id, a, ['the apple pie recipe']);
      const act = async (kind: 'edit' | 'delete', text: string) => {
        const [r] = await env.store.messages.appendMessages([
          {
            id: uid('m'),
            conversationId: c.id,
            senderId: a,
            clientId: uid('k'),
            text,
            createdAt: NOW,
            kind,
            target: seq,
          },
        ]);
        if (!r?.ok) throw new Error(`${kind} failed: ${r?.ok === false ? r.code : 'none'}`);
      };
      await act('edit', 'the banana bread recipe');
      expect(await texts(b, 'apple')).toEqual([]);
      expect(await texts(b, 'banana')).toEqual(['the banana bread recipe']);
      // The edit event itself is no hit: only content is indexed.
      expect(await texts(b, 'recipe')).toEqual(['the banana bread recipe']);
      await act('delete', '');
      expect(await texts(b, 'banana')).toEqual([]);
      expect(await texts(b, 'recipe')).toEqual([]);
    });

    it('finds words of Chinese, Japanese, Korean and Thai text', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a, b, NOW);
      await send(c.id, a, [
        '我们明天去北京',
        '東京に行きます',
        '서울에 갑니다',
        'ฉันไปกรุงเทพ',
        '北京大学很好',
      ]);
      expect((await texts(b, '北京')).sort()).toEqual(['北京大学很好', '我们明天去北京']);
      expect(await texts(b, '東京')).toEqual(['東京に行きます']);
      expect(await texts(b, '서울')).toEqual(['서울에 갑니다']);
      expect(await texts(b, 'กรุงเทพ')).toEqual(['ฉันไปกรุงเทพ']);
      // Across the segmenter's word boundaries ("北京" "大学"), and a single character.
      expect(await texts(b, '京大')).toEqual(['北京大学很好']);
      expect(await texts(b, '갑니다')).toEqual(['서울에 갑니다']);
      expect((await texts(b, '京')).sort()).toEqual(['北京大学很好', '我们明天去北京', '東京に行きます']);
      const [jp] = (await find(b, '東京')).hits;
      expect(jp?.highlights).toEqual([[0, 2]]);
      const [cn] = (await find(b, '京大')).hits;
      expect(cn?.highlights).toEqual([[1, 3]]);
      const [th] = (await find(b, 'กรุงเทพ')).hits;
      expect(th?.highlights).toEqual([[5, 12]]);
    });

    it('finds only messages of conversations the user is in, from when they joined', async () => {
      const [a, b, x, late] = [await user(), await user(), await user(), await user()];
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a, [b], NOW);
      await send(g.id, a, ['secret plan one']);
      await env.store.conversations.addMembers(g.id, [late], 100, NOW);
      await send(g.id, a, ['secret plan two']);
      expect((await texts(b, 'secret')).sort()).toEqual(['secret plan one', 'secret plan two']);
      expect(await texts(late, 'secret')).toEqual(['secret plan two']);
      // Not a member: nothing, even when naming the conversation.
      expect(await texts(x, 'secret')).toEqual([]);
      expect(await texts(x, { text: 'secret', conversationId: g.id })).toEqual([]);
    });

    it('keeps what a former member saw, up to when they left', async () => {
      const [a, b] = [await user(), await user()];
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a, [b], NOW);
      await send(g.id, a, ['budget before']);
      await env.store.conversations.removeMember(g.id, b, { by: null });
      await send(g.id, a, ['budget after']);
      expect(await texts(b, 'budget')).toEqual(['budget before']);
      expect(await texts(b, { text: 'budget', conversationId: g.id })).toEqual(['budget before']);
      // Added again: from then on, and the old stretch still.
      await env.store.conversations.addMembers(g.id, [b], 100, NOW);
      await send(g.id, a, ['budget again']);
      expect((await texts(b, 'budget')).sort()).toEqual(['budget again', 'budget before']);
    });

    it('ranks by relevance, then by age, newest first among equals', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a, b, NOW);
      await send(c.id, a, ['apple banana cherry date elder fig grape'], NOW - DAY);
      await send(c.id, a, ['apple apple apple'], NOW - DAY);
      await send(c.id, a, ['old apple pie'], NOW - 300 * DAY);
      await send(c.id, a, ['new apple pie'], NOW - DAY);
      await send(c.id, a, ['newer apple pie'], NOW - DAY);
      const got = await texts(b, 'apple');
      expect(got.indexOf('apple apple apple')).toBeLessThan(
        got.indexOf('apple banana cherry date elder fig grape'),
      );
      expect(got.indexOf('new apple pie')).toBeLessThan(got.indexOf('old apple pie'));
      // Same words, same age: the later message first.
      expect(await texts(b, 'pie')).toEqual(['newer apple pie', 'new apple pie', 'old apple pie']);
    });

    it('filters by conversation, sender and time', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      const ab = await env.store.conversations.getOrCreateDirect(uid('c_'), a, b, NOW);
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a, [b, c], NOW);
      await send(ab.id, a, ['report from a, direct'], NOW - 3 * DAY);
      await send(g.id, b, ['report from b, group'], NOW - 2 * DAY);
      await send(g.id, c, ['report from c, group'], NOW - DAY);
      expect((await texts(b, { text: 'report', conversationId: g.id })).sort()).toEqual([
        'report from b, group',
        'report from c, group',
      ]);
      expect(await texts(b, { text: 'report', senderId: a })).toEqual(['report from a, direct']);
      expect(await texts(b, { text: 'report', before: NOW - 2 * DAY })).toEqual(['report from a, direct']);
      expect(await texts(b, { text: 'report', after: NOW - 2 * DAY })).toEqual(['report from c, group']);
      expect(
        await texts(b, { text: 'report', after: NOW - 4 * DAY, before: NOW - DAY, conversationId: g.id }),
      ).toEqual(['report from b, group']);
      // Messages created after the page's `asOf` are not counted.
      expect((await find(b, 'report', { asOf: NOW - 2 * DAY })).hits).toHaveLength(2);
    });

    it('pages through the hits without repeating or skipping one', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a, b, NOW);
      await send(
        c.id,
        a,
        Array.from({ length: 7 }, (_, i) => `note number ${i}`),
      );
      const seen: string[] = [];
      let offset = 0;
      for (;;) {
        const p = await find(b, 'note', { offset, limit: 3 });
        seen.push(...p.hits.map((h) => h.message.text));
        offset += p.hits.length;
        if (!p.hasMore) break;
      }
      expect(seen).toHaveLength(7);
      expect(new Set(seen).size).toBe(7);
      expect((await find(b, 'note', { offset: 6, limit: 3 })).hasMore).toBe(false);
    });

    it('indexes a message again when its text changes, and forgets an erased one', async () => {
      const [a, b] = [await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a, b, NOW);
      const [s1, s2] = await send(c.id, a, ['first draft', 'second draft']);
      await env.store.search.indexText(c.id, s1 as number, 'final version');
      expect(await texts(b, 'version')).toHaveLength(1);
      expect((await find(b, 'draft')).hits.map((h) => h.message.seq)).toEqual([s2]);
      await env.store.search.unindex(c.id, s2 as number);
      expect(await texts(b, 'draft')).toEqual([]);
      // Unknown messages are ignored.
      await env.store.search.indexText(c.id, 99, 'nothing');
      await env.store.search.unindex('c_unknown', 1);
      expect(await texts(b, 'nothing')).toEqual([]);
    });
  });
}
