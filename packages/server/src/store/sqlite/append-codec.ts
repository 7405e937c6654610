/**
 * `appendMessages` across the store thread's boundary as flat arrays of primitives instead
 * of arrays of objects: structured clone writes every property name of every object, and a
 * batch crosses twice (up to 512 messages each way), so the objects cost the main thread more
 * than the commit's data. The main thread already has each message's fields; the store
 * thread sends back only what it decided (seq, pos, recipients, prev).
 */
import type { ErrorCode, Message } from '@parley/protocol';
import type { AppendResult, NewMessage } from '../store.js';
import { isPlain } from '../common/message-rules.js';

/**
 * Slots per message in a packed batch: id, conversationId, senderId, clientId, text, createdAt,
 * then 0 for a plain message or the action fields (kind, target, replyTo, forwarded, mentions,
 * attachments).
 */
const IN = 7;
/** Slots per message in packed results: kind, then four values by kind (see `packResults`). */
const OUT = 5;
const STORED = 1;
const DUPLICATE = 2;
/** A stored action or reply: the store made more of it than seq and pos (a reply snippet). */
const STORED_FULL = 3;

type Extra = Pick<
  NewMessage,
  'kind' | 'target' | 'replyTo' | 'forwarded' | 'mentions' | 'attachments' | 'preview'
>;

function extraOf(m: NewMessage): Extra | 0 {
  if (isPlain(m)) return 0;
  const e: Extra = {};
  if (m.kind !== undefined) e.kind = m.kind;
  if (m.target !== undefined) e.target = m.target;
  if (m.replyTo !== undefined) e.replyTo = m.replyTo;
  if (m.forwarded) e.forwarded = true;
  if (m.mentions !== undefined) e.mentions = m.mentions;
  if (m.attachments !== undefined) e.attachments = m.attachments;
  if (m.preview !== undefined) e.preview = m.preview;
  return e;
}
const REFUSED = 0;

export function packBatch(batch: readonly NewMessage[]): unknown[] {
  // Filled by push: a packed (not holey) array takes the serializer's fast path.
  const out: unknown[] = [];
  for (const m of batch) {
    out.push(m.id, m.conversationId, m.senderId, m.clientId, m.text, m.createdAt, extraOf(m));
  }
  return out;
}

export function unpackBatch(packed: readonly unknown[]): NewMessage[] {
  const out: NewMessage[] = [];
  for (let i = 0; i < packed.length; i += IN) {
    const m: NewMessage = {
      id: packed[i] as string,
      conversationId: packed[i + 1] as string,
      senderId: packed[i + 2] as string,
      clientId: packed[i + 3] as string,
      text: packed[i + 4] as string,
      createdAt: packed[i + 5] as number,
    };
    const extra = packed[i + 6] as Extra | 0;
    out.push(extra === 0 ? m : { ...m, ...extra });
  }
  return out;
}

/**
 * Per message: STORED, seq, pos, recipients, prev (a conversation's recipients array is shared
 * by its messages, and the clone keeps that sharing); DUPLICATE, the original message, 0, 0, 0;
 * or REFUSED, the error code, 0, 0, 0.
 */
export function packResults(results: readonly AppendResult[]): unknown[] {
  const out: unknown[] = [];
  for (const r of results) {
    if (!r.ok) out.push(REFUSED, r.code, 0, 0, 0);
    else if (r.duplicate) out.push(DUPLICATE, r.message, 0, 0, 0);
    else if (
      r.message.kind !== 'text' ||
      r.message.replyTo ||
      r.message.forwarded ||
      r.message.mentions ||
      r.message.attachments ||
      r.message.preview
    ) {
      out.push(STORED_FULL, r.message, 0, r.recipients, r.prev);
    } else out.push(STORED, r.message.seq, r.message.pos, r.recipients, r.prev);
  }
  return out;
}

export function unpackResults(batch: readonly NewMessage[], packed: readonly unknown[]): AppendResult[] {
  const out: AppendResult[] = [];
  for (let k = 0; k < batch.length; k++) {
    const i = k * OUT;
    const kind = packed[i];
    if (kind === REFUSED) out.push({ ok: false, code: packed[i + 1] as ErrorCode });
    else if (kind === DUPLICATE) {
      out.push({ ok: true, duplicate: true, message: packed[i + 1] as Message, recipients: [], prev: [] });
    } else if (kind === STORED_FULL) {
      out.push({
        ok: true,
        duplicate: false,
        message: packed[i + 1] as Message,
        recipients: packed[i + 3] as readonly string[],
        prev: packed[i + 4] as number[],
      });
    } else {
      const m = batch[k] as NewMessage;
      out.push({
        ok: true,
        duplicate: false,
        recipients: packed[i + 3] as readonly string[],
        prev: packed[i + 4] as number[],
        message: {
          id: m.id,
          conversationId: m.conversationId,
          seq: packed[i + 1] as number,
          pos: packed[i + 2] as number,
          senderId: m.senderId,
          clientId: m.clientId,
          kind: 'text',
          text: m.text,
          createdAt: m.createdAt,
        },
      });
    }
  }
  return out;
}
