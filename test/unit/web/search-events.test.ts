/** Search results follow the feed: an edited hit shows its new text, a deleted one leaves. */
import { describe, expect, it } from 'vitest';
import type { Message, SearchHit } from '@parley/client';
import { MessageSearch } from '../../../packages/web/src/state/search.js';

const msg = (seq: number, text: string): Message => ({
  id: `m${seq}`,
  conversationId: 'c1',
  seq,
  senderId: 'u1',
  clientId: `k${seq}`,
  text,
  createdAt: 1000 + seq,
  pos: seq,
  kind: 'text',
});

const event = (seq: number, kind: Message['kind'], target: number, text = ''): Message => ({
  ...msg(seq, text),
  kind,
  target,
});

function withHits(): { search: MessageSearch; changes: () => number } {
  let n = 0;
  const search = new MessageSearch(
    () => null,
    () => n++,
    () => 'error',
  );
  const hit = (m: Message): SearchHit => ({
    message: m,
    conversationId: m.conversationId,
    seq: m.seq,
    highlights: [[0, 4]],
  });
  search.hits = [hit(msg(1, 'cafe at noon')), hit(msg(2, 'cafe later'))];
  return { search, changes: () => n };
}

describe('search results and message events', () => {
  it('shows the new text of an edited hit, without the old highlights', () => {
    const { search, changes } = withHits();
    search.apply(event(3, 'edit', 1, 'tea at noon'));
    expect(search.hits.map((h) => h.message.text)).toEqual(['tea at noon', 'cafe later']);
    expect(search.hits[0]!.highlights).toEqual([]);
    expect(search.hits[1]!.highlights).toEqual([[0, 4]]);
    expect(changes()).toBe(1);
  });

  it('drops a hit deleted for everyone or hidden for me, and ignores other messages', () => {
    const { search } = withHits();
    search.apply(event(3, 'delete', 2));
    expect(search.hits.map((h) => h.seq)).toEqual([1]);
    search.apply(event(4, 'hide', 1));
    expect(search.hits).toEqual([]);
    const other = withHits();
    other.search.apply(event(5, 'edit', 9, 'x'));
    other.search.apply(msg(6, 'new message'));
    expect(other.search.hits).toHaveLength(2);
    expect(other.changes()).toBe(0);
  });
});
