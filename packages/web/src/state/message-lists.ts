/**
 * Lists of messages kept beside the chat windows: a chat's pinned messages, and the Saved and
 * Mentions views across chats. The server orders them (newest first); feed events keep them
 * current. Pure, so the rules can be tested without a browser.
 */
import { applyEvent } from '@parley/client';
import type { Message } from '@parley/client';

export type ListKind = 'mentions' | 'saved';

/** One of the Saved and Mentions views: the pages loaded so far. */
export interface MessageList {
  messages: Message[];
  /** Cursor of the next (older) page; undefined once everything is loaded. */
  next: string | undefined;
  loading: boolean;
  /** Why the last load failed (the view offers to try again). */
  error: string | null;
}

/** What a feed message does to a list: its new messages, 'reload' (ask the server), or null (nothing). */
export type ListChange = Message[] | 'reload' | null;

/** Events other than the list's own change the messages they target (edits, deletes, reactions). */
function applyTargeted(messages: Message[], m: Message): Message[] | null {
  if (m.kind === 'text' || m.target === undefined) return null;
  if (!messages.some((x) => x.conversationId === m.conversationId && x.seq === m.target)) return null;
  return applyEvent(messages, m);
}

/** A chat's pinned messages after a feed message of that chat. */
export function pinsAfter(pins: Message[], m: Message): ListChange {
  // A new pin goes first; where, and with what text, the server knows.
  if (m.kind === 'pin') return 'reload';
  const next = applyTargeted(pins, m);
  // Unpinned, or deleted for everyone (a tombstone is no longer pinned).
  return next === null ? null : next.filter((x) => x.pinnedAt !== undefined);
}

/** The Saved or Mentions view after a feed message; `me` is my user id. */
export function listAfter(kind: ListKind, messages: Message[], m: Message, me: string): ListChange {
  if (kind === 'saved') {
    if (m.kind === 'save') return 'reload';
    const next = applyTargeted(messages, m);
    return next === null ? null : next.filter((x) => x.saved === true);
  }
  if (m.kind === 'text') return m.mentions?.includes(me) === true ? 'reload' : null;
  if (m.kind === 'edit') {
    // An edit carries its message's mentions anew: one that names me now may add it, one that
    // does not any more takes it out.
    const listed = messages.some((x) => x.conversationId === m.conversationId && x.seq === m.target);
    if (m.mentions?.includes(me) === true) return listed ? applyTargeted(messages, m) : 'reload';
    return listed
      ? messages.filter((x) => x.conversationId !== m.conversationId || x.seq !== m.target)
      : null;
  }
  return applyTargeted(messages, m);
}
