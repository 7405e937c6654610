/**
 * The `next` cursor of cross-conversation lists (mentions, saved): the time the row was
 * listed, then the message's seq and conversation, the order both stores page by (newest first).
 */
import { ParleyError } from '@parley/protocol';
import type { Message } from '@parley/protocol';

export interface ListPosition {
  at: number;
  seq: number;
  conversationId: string;
}

/** Before everything: the first page. */
const START: ListPosition = { at: Number.MAX_SAFE_INTEGER, seq: Number.MAX_SAFE_INTEGER, conversationId: '' };

export function listCursor(at: number, m: Pick<Message, 'seq' | 'conversationId'>): string {
  return `${at}.${m.seq}.${m.conversationId}`;
}

/** A `before` from a client; absent is the first page. Throws `invalid_field` for a bad one. */
export function parseListCursor(before: string | undefined): ListPosition {
  if (before === undefined) return START;
  const match = /^([0-9]{1,16})\.([0-9]{1,16})\.(.{1,64})$/.exec(before);
  if (!match) throw new ParleyError('invalid_field', 'before must be a `next` from a previous page');
  return { at: Number(match[1]), seq: Number(match[2]), conversationId: match[3] as string };
}

/** Is row (at, conversationId, seq) before `p` in list order (newest first)? */
export function isBefore(at: number, conversationId: string, seq: number, p: ListPosition): boolean {
  if (p === START) return true;
  if (at !== p.at) return at < p.at;
  if (conversationId !== p.conversationId) return conversationId < p.conversationId;
  return seq < p.seq;
}
