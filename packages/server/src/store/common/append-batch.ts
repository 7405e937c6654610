/**
 * What both SQL adapters do to a batch of appends before it reaches the database: repair
 * lone surrogates, refuse what the engine cannot hold, and answer resends of a
 * (sender, client id) inside the batch from the original.
 */
import type { AppendResult, NewMessage } from '../store.js';
import { pairKey } from './pair-key.js';

/**
 * The message with lone surrogates in what a client chose (text, client id, conversation id)
 * replaced by U+FFFD, so that every store keeps the same text: UTF-8 cannot hold them
 * (SQLite would get three bytes of CESU-8, one bad character each), and JSON carries them as
 * `\uD800`, which PostgreSQL's JSON parser refuses.
 */
export function wellFormed(m: NewMessage): NewMessage {
  if (m.text.isWellFormed() && m.clientId.isWellFormed() && m.conversationId.isWellFormed()) return m;
  return {
    ...m,
    text: m.text.toWellFormed(),
    clientId: m.clientId.toWellFormed(),
    conversationId: m.conversationId.toWellFormed(),
  };
}

/**
 * One message of a planned batch: answered already, the index of a message to store, or
 * `-1 - k` for a resend of the message to store at index k.
 */
type Slot = AppendResult | number;

export interface AppendPlan {
  /** The messages to store, well-formed, each (sender, client id) once. */
  readonly messages: readonly NewMessage[];
  readonly slots: readonly Slot[];
}

/**
 * Plan a batch: `refuseNul` (PostgreSQL text cannot hold NUL) refuses such a message alone,
 * never failing the batch of other users' messages; a conversation id with NUL names none.
 */
export function planAppends(batch: readonly NewMessage[], refuseNul: boolean): AppendPlan {
  const slots: Slot[] = [];
  const messages: NewMessage[] = [];
  const firstByKey = new Map<string, number>();
  for (const given of batch) {
    if (refuseNul && (given.text.includes('\u0000') || given.clientId.includes('\u0000'))) {
      slots.push({ ok: false, code: 'invalid_field' });
      continue;
    }
    if (refuseNul && given.conversationId.includes('\u0000')) {
      slots.push({ ok: false, code: 'not_found' });
      continue;
    }
    const m = wellFormed(given);
    const key = pairKey(m.senderId, m.clientId);
    const earlier = firstByKey.get(key);
    if (earlier !== undefined) {
      const o = messages[earlier] as NewMessage;
      slots.push(
        o.conversationId === m.conversationId && o.text === m.text
          ? -1 - earlier
          : { ok: false, code: 'client_id_conflict' },
      );
      continue;
    }
    firstByKey.set(key, messages.length);
    slots.push(messages.length);
    messages.push(m);
  }
  return { messages, slots };
}

/** The batch's answers, given the answers for `plan.messages` (same order). */
export function resolveAppends(plan: AppendPlan, answers: readonly AppendResult[]): AppendResult[] {
  return plan.slots.map((slot) => {
    if (typeof slot !== 'number') return slot;
    const a = answers[slot >= 0 ? slot : -1 - slot];
    if (!a) throw new Error('the store returned no answer for a message');
    // A resend inside the batch answers like a resend of a stored message: the original.
    if (slot >= 0 || !a.ok) return a;
    return { ok: true, message: a.message, duplicate: true, recipients: [], prev: [] };
  });
}
