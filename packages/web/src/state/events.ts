/**
 * How messages from the feed (content and events, see protocol.md §5.6) change what the app
 * holds: a window of content messages and a conversation's list entry. Pure, so the rules
 * can be tested without a browser; the store and the local cache both use them.
 */
import { applyEvent, foldInto } from '@parley/client';
import type { Conversation, Message } from '@parley/client';

/** Code points of a replied-to message shown in a reply (the server's snippet length). */
const SNIPPET = 200;

/** Content the window holds, and how far (in seqs, events included) it is known complete. */
export interface Span {
  /** Content messages, ascending by seq (seqs have gaps where events sit). */
  messages: Message[];
  /** Highest seq folded in: every message of the conversation up to it is reflected. */
  top: number;
}

export function isEvent(m: Message): boolean {
  return m.kind !== 'text';
}

/**
 * Apply one feed message to a span. `gap` is true when seqs between the span's top and `m`
 * are missing (the caller fetches them). The message is applied either way: applying content
 * or an event again, or one already folded into a history page, changes nothing.
 */
export function applyToSpan(span: Span, m: Message): { span: Span; gap: boolean } {
  const gap = span.top > 0 && m.seq > span.top + 1;
  let messages = span.messages;
  if (isEvent(m)) {
    if (m.target !== undefined && messages.some((x) => x.seq === m.target)) {
      messages = withReplies(applyEvent(messages, m), m);
    }
  } else if (!gap && !messages.some((x) => x.seq === m.seq)) {
    messages = applyEvent(messages, m);
  }
  return { span: { messages, top: gap ? span.top : Math.max(span.top, m.seq) }, gap };
}

/** Replies quoting the target of `event` show the target as it is now (edited or deleted). */
function withReplies(messages: Message[], event: Message): Message[] {
  if (event.kind !== 'edit' && event.kind !== 'delete') return messages;
  const target = messages.find((x) => x.seq === event.target);
  if (target === undefined) return messages;
  return messages.map((x) => (x.replyTo?.seq === target.seq ? { ...x, replyTo: snippetOf(target) } : x));
}

/** A reply's quote of message `m`, as the server makes it. */
export function snippetOf(m: Message): NonNullable<Message['replyTo']> {
  if (m.deleted === true) return { seq: m.seq, senderId: m.senderId, text: '', deleted: true };
  return { seq: m.seq, senderId: m.senderId, text: [...m.text].slice(0, SNIPPET).join('') };
}

/**
 * Merge a history page (content, current state) into content already held: the page's copies
 * replace older ones, then `later` (feed messages that arrived while the page was on its way)
 * are applied again so none of them is undone.
 */
export function mergePage(held: Message[], page: Message[], later: Message[] = []): Message[] {
  const bySeq = new Map<number, Message>();
  for (const m of held) bySeq.set(m.seq, m);
  for (const m of page) bySeq.set(m.seq, m);
  let out = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  for (const m of later) {
    if (isEvent(m)) out = withReplies(applyEvent(out, m), m);
    else if (!bySeq.has(m.seq) && m.seq > (page[page.length - 1]?.seq ?? 0)) out = applyEvent(out, m);
  }
  return out;
}

/**
 * A conversation's list entry after feed message `m`: content becomes the preview and counts
 * as unread (from others, above my read cursor); an event only moves `lastSeq` (and my read
 * cursor over my own), and changes the preview only when it edits, deletes or hides the very
 * message shown. `hidden` is the message to show instead when the preview is hidden (the
 * previous one, when known).
 */
export function conversationAfter(
  c: Conversation,
  m: Message,
  me: string,
  hidden?: Message | null,
): { conversation: Conversation; counts: boolean } {
  const mine = m.senderId === me;
  const base: Conversation = {
    ...c,
    lastSeq: Math.max(c.lastSeq, m.seq),
    lastActivityAt: Math.max(c.lastActivityAt, m.createdAt),
    readSeq: mine ? Math.max(c.readSeq, m.seq) : c.readSeq,
  };
  if (isEvent(m)) {
    const last = c.lastMessage;
    if (last !== null && last.seq === m.target) {
      if (m.kind === 'hide') base.lastMessage = hidden ?? null;
      else base.lastMessage = foldInto(last, m);
    }
    if (mine && base.readSeq >= base.lastSeq) base.unread = 0;
    return { conversation: base, counts: false };
  }
  if (m.seq <= c.lastSeq && c.lastMessage !== null) return { conversation: c, counts: false };
  const counts = !mine && m.seq > c.readSeq;
  return {
    conversation: { ...base, lastMessage: m, unread: mine ? 0 : counts ? c.unread + 1 : c.unread },
    counts,
  };
}
