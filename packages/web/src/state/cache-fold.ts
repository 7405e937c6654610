/**
 * What a batch of cache writes does to the cached messages of conversations, worked out in
 * memory before one IndexedDB transaction writes it (pure, so it is tested without a browser).
 *
 * The cache holds, per conversation, content messages that are complete from the oldest one
 * kept up to `top` (a seq, events included), with every event up to `top` folded in. Events
 * themselves are not kept. Feed messages extend it only when they follow `top`; a gap leaves
 * it as it is (the app fetches history to fill it and writes that as a page).
 */
import { applyEvent } from '@parley/client';
import type { Message } from '@parley/client';
import { isEvent } from './events.js';

export type CacheOp =
  /** A message from the feed (live or catch-up): content or an event. */
  | { kind: 'feed'; message: Message }
  /**
   * History content (current state) that follows content seq `after`, complete up to `top`.
   * When the cache does not reach `after`, it starts over from the page.
   */
  | { kind: 'page'; conversationId: string; after: number; messages: Message[]; top: number }
  /** Forget the conversation's cached messages (a new window starts). */
  | { kind: 'reset'; conversationId: string };

export function key(conversationId: string, seq: number): string {
  return `${conversationId}\u0000${seq}`;
}

/** What the batch reads first: the tops of the conversations and the messages it touches. */
export function wanted(ops: readonly CacheOp[]): { spans: Set<string>; messages: Array<[string, number]> } {
  const spans = new Set<string>();
  const messages = new Map<string, [string, number]>();
  for (const op of ops) {
    if (op.kind !== 'feed') continue;
    const m = op.message;
    spans.add(m.conversationId);
    const seq = isEvent(m) ? m.target : m.seq;
    if (seq !== undefined) messages.set(key(m.conversationId, seq), [m.conversationId, seq]);
  }
  return { spans, messages: [...messages.values()] };
}

export interface Folded {
  /** Conversations whose cached messages are deleted first. */
  resets: Set<string>;
  /** Messages to write (a Message) or delete (null), by `key()`. */
  messages: Map<string, Message | null>;
  /** New tops (null: none, the conversation's cache is empty). */
  spans: Map<string, number | null>;
}

/**
 * Fold `ops`, in order, over what was read: `spans` (conversation -> top, absent when the
 * conversation has none) and `messages` (by `key()`, absent when not cached).
 */
export function foldOps(
  ops: readonly CacheOp[],
  spans: ReadonlyMap<string, number>,
  messages: ReadonlyMap<string, Message>,
): Folded {
  const out: Folded = { resets: new Set(), messages: new Map(), spans: new Map() };
  const topOf = (id: string): number | undefined => {
    const s = out.spans.has(id) ? out.spans.get(id) : spans.get(id);
    return s ?? undefined;
  };
  const get = (id: string, seq: number): Message | undefined => {
    const k = key(id, seq);
    if (out.messages.has(k)) return out.messages.get(k) ?? undefined;
    return out.resets.has(id) ? undefined : messages.get(k);
  };
  const reset = (id: string): void => {
    out.resets.add(id);
    for (const k of [...out.messages.keys()]) if (k.startsWith(`${id}\u0000`)) out.messages.delete(k);
    out.spans.set(id, null);
  };
  for (const op of ops) {
    if (op.kind === 'reset') {
      reset(op.conversationId);
      continue;
    }
    if (op.kind === 'page') {
      if ((topOf(op.conversationId) ?? -1) < op.after) reset(op.conversationId);
      for (const m of op.messages) out.messages.set(key(m.conversationId, m.seq), m);
      out.spans.set(op.conversationId, Math.max(topOf(op.conversationId) ?? 0, op.top));
      continue;
    }
    const m = op.message;
    const id = m.conversationId;
    const top = topOf(id);
    if (isEvent(m)) {
      const target = m.target === undefined ? undefined : get(id, m.target);
      if (target !== undefined && m.target !== undefined) {
        const next = applyEvent([target], m)[0];
        out.messages.set(key(id, m.target), next ?? null);
      }
      if (top !== undefined && m.seq === top + 1) out.spans.set(id, m.seq);
      continue;
    }
    if (top === undefined) {
      // Nothing known complete here (or left by an older version): start from this message.
      reset(id);
      out.messages.set(key(id, m.seq), m);
      out.spans.set(id, m.seq);
    } else if (m.seq === top + 1) {
      out.messages.set(key(id, m.seq), m);
      out.spans.set(id, m.seq);
    } else if (m.seq <= top && get(id, m.seq) === undefined) {
      // Already folded through top but not cached: a message the cache never had stays out
      // (it is older than what is kept, or was hidden).
      continue;
    }
  }
  return out;
}
