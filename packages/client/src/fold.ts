/**
 * Applying message events to a list of content messages, as every app needs to: history
 * pages hold content in its current state, the feed (live and catch-up) delivers every event
 * once and in order. Applying an event twice, or one already folded into a history page,
 * changes nothing (the same event leaves the same state).
 */
import type { Message, Reaction } from '@parley/protocol';

/**
 * Apply `m` (a content message or an event, as the feed delivers it) to `messages` (content
 * of one or more conversations, ascending by seq within each). Returns a new array; the
 * messages that change are copied. Events whose target is not in the list change nothing.
 */
export function applyEvent(messages: readonly Message[], m: Message): Message[] {
  if (m.kind === 'text') {
    if (messages.some((x) => x.conversationId === m.conversationId && x.seq === m.seq)) return [...messages];
    const out = [...messages, m];
    out.sort((a, b) => (a.conversationId === b.conversationId ? a.seq - b.seq : 0));
    return out;
  }
  const at = messages.findIndex((x) => x.conversationId === m.conversationId && x.seq === m.target);
  const target = messages[at];
  if (!target) return [...messages];
  if (m.kind === 'hide') return messages.filter((_, i) => i !== at);
  const next = foldInto(target, m);
  return messages.map((x, i) => (i === at ? next : x));
}

/** `target` (a content message) after event `m`. */
export function foldInto(target: Message, m: Message): Message {
  if (target.deleted && m.kind !== 'unsave') return target;
  const t: Message = { ...target };
  switch (m.kind) {
    case 'edit':
      t.text = m.text;
      t.editedAt = m.createdAt;
      // An edit carries the mentions of its new text (none: absent).
      if (m.mentions?.length) t.mentions = [...m.mentions];
      else delete t.mentions;
      // The server drops the preview on an edit: the link may have changed.
      delete t.preview;
      return t;
    case 'delete': {
      const tomb: Message = { ...t, text: '', deleted: true };
      delete tomb.editedAt;
      delete tomb.reactions;
      delete tomb.replyTo;
      delete tomb.mentions;
      delete tomb.pinnedAt;
      delete tomb.preview;
      return tomb;
    }
    case 'react':
    case 'unreact':
      return withReaction(t, m.text, m.senderId, m.kind === 'react');
    case 'pin':
      t.pinnedAt ??= m.createdAt;
      return t;
    case 'unpin':
      delete t.pinnedAt;
      return t;
    case 'save':
      t.saved = true;
      return t;
    case 'unsave':
      delete t.saved;
      return t;
    default:
      return t;
  }
}

function withReaction(t: Message, emoji: string, userId: string, add: boolean): Message {
  const list: Reaction[] = (t.reactions ?? []).map((r) => ({ ...r, userIds: [...r.userIds] }));
  let r = list.find((x) => x.emoji === emoji);
  if (add) {
    if (!r) list.push((r = { emoji, count: 0, userIds: [] }));
    if (!r.userIds.includes(userId)) r.userIds.push(userId);
  } else if (r) {
    r.userIds = r.userIds.filter((u) => u !== userId);
  }
  for (const x of list) x.count = x.userIds.length;
  const kept = list.filter((x) => x.count > 0);
  const out = { ...t };
  if (kept.length > 0) out.reactions = kept;
  else delete out.reactions;
  return out;
}
