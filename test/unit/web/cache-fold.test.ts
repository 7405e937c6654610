/**
 * What a batch of writes does to the web app's cached messages: events are folded into the
 * cached target (never kept themselves), and the cache only grows without holes.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../packages/client/src/index.js';
import { foldOps, key, wanted } from '../../../packages/web/src/state/cache-fold.js';
import type { CacheOp } from '../../../packages/web/src/state/cache-fold.js';

const C = 'c1';
function text(seq: number, body = `m${seq}`): Message {
  return {
    id: `i${seq}`,
    conversationId: C,
    seq,
    pos: seq,
    senderId: 'bob',
    clientId: `k${seq}`,
    kind: 'text',
    text: body,
    createdAt: seq,
  };
}
function ev(seq: number, kind: Message['kind'], target: number, body = ''): Message {
  return { ...text(seq, body), kind, target };
}
const feed = (message: Message): CacheOp => ({ kind: 'feed', message });

describe('foldOps', () => {
  it('folds events in order into the cached target and advances top', () => {
    const cached = new Map([[key(C, 1), text(1, 'a')]]);
    const out = foldOps(
      [
        feed(ev(2, 'edit', 1, 'b')),
        feed(ev(3, 'react', 1, '👍')),
        feed(text(4)),
        feed(ev(5, 'edit', 4, 'x')),
      ],
      new Map([[C, 1]]),
      cached,
    );
    expect(out.spans.get(C)).toBe(5);
    expect(out.messages.get(key(C, 1))?.text).toBe('b');
    expect(out.messages.get(key(C, 1))?.reactions?.[0]?.count).toBe(1);
    expect(out.messages.get(key(C, 4))?.text).toBe('x');
    expect([...out.messages.values()].every((m) => m?.kind === 'text')).toBe(true);
  });

  it('deletes a hidden message and erases a deleted one', () => {
    const cached = new Map([
      [key(C, 1), text(1, 'a')],
      [key(C, 2), text(2, 'secret')],
    ]);
    const out = foldOps([feed(ev(3, 'hide', 1)), feed(ev(4, 'delete', 2))], new Map([[C, 2]]), cached);
    expect(out.messages.get(key(C, 1))).toBeNull();
    expect(out.messages.get(key(C, 2))).toMatchObject({ text: '', deleted: true });
  });

  it('leaves a gap out, and starts over where nothing was known complete', () => {
    const gap = foldOps([feed(text(5))], new Map([[C, 2]]), new Map());
    expect(gap.messages.size).toBe(0);
    expect(gap.spans.has(C)).toBe(false);
    const fresh = foldOps([feed(text(5))], new Map(), new Map());
    expect(fresh.resets.has(C)).toBe(true);
    expect(fresh.spans.get(C)).toBe(5);
  });

  it('a page that does not continue the cache starts it over', () => {
    const out = foldOps(
      [{ kind: 'page', conversationId: C, after: 10, messages: [text(12)], top: 14 }],
      new Map([[C, 5]]),
      new Map(),
    );
    expect(out.resets.has(C)).toBe(true);
    expect(out.spans.get(C)).toBe(14);
    const cont = foldOps(
      [{ kind: 'page', conversationId: C, after: 4, messages: [text(6)], top: 8 }],
      new Map([[C, 5]]),
      new Map(),
    );
    expect(cont.resets.has(C)).toBe(false);
    expect(cont.spans.get(C)).toBe(8);
  });

  it('asks to read the tops and targets the feed touches', () => {
    const w = wanted([feed(text(3)), feed(ev(4, 'edit', 1, 'x'))]);
    expect([...w.spans]).toEqual([C]);
    expect(w.messages).toEqual([
      [C, 3],
      [C, 1],
    ]);
  });
});
