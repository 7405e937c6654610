/**
 * The rules of message actions, written once for every store: each adapter reads the actor's
 * membership and the target's state inside its append transaction and asks `refusal`, so a
 * rule holds whatever the store.
 */
import { MAX_PINS, MAX_REACTIONS_PER_MESSAGE, PRIVATE_KINDS } from '@parley/protocol';
import type { ErrorCode, MessageKind } from '@parley/protocol';
import type { NewMessage } from '../ports/messages.js';

/** The actor of an event, as a member of the conversation. */
export interface Actor {
  role: 'admin' | 'member';
  /** Their feed has the conversation's messages after this position. */
  joinedPos: number;
  conversationKind: 'direct' | 'group';
}

/** A target message's state (as folded so far), and what the rules count on it. */
export interface TargetState {
  seq: number;
  pos: number;
  kind: MessageKind;
  senderId: string;
  deleted: boolean;
  pinned: boolean;
  /** Distinct emoji reacted on it. */
  emoji: Set<string>;
  /** Its conversation's count of pinned messages (shared by the targets of one conversation). */
  chat: { pins: number };
}

/**
 * A message without action fields or files: the stores take a shorter path for it. Content
 * with attachments may have empty text (a file without caption): the server checks text.
 */
export const isPlain = (m: NewMessage): boolean =>
  m.kind === undefined &&
  m.replyTo === undefined &&
  !m.forwarded &&
  m.mentions === undefined &&
  m.attachments === undefined &&
  m.preview === undefined;

/** What search indexes for a content message: its text and its files' names. */
export function searchTextOf(m: {
  text: string;
  attachments?: readonly { name: string }[] | undefined;
}): string {
  return m.attachments?.length ? [m.text, ...m.attachments.map((a) => a.name)].join('\n') : m.text;
}

/** The kind a message is stored with. */
export const kindOf = (m: NewMessage): MessageKind => m.kind ?? 'text';

/** The target seq of an event or the replied-to seq of a reply: what the rules need read. */
export function targetOf(m: NewMessage): number | undefined {
  return kindOf(m) === 'text' ? m.replyTo : m.target;
}

/** The only user whose feed has this message, or null for every member. */
export function audienceOf(m: NewMessage): string | null {
  return PRIVATE_KINDS.has(kindOf(m)) ? m.senderId : null;
}

/**
 * Why the store refuses `m` (an event, or a reply), or null to store it. The actor is a member
 * (checked before); `target` is undefined when no message has that seq. A target the actor
 * cannot see (not content, or before they joined) answers like a missing one.
 */
export function refusal(m: NewMessage, actor: Actor, target: TargetState | undefined): ErrorCode | null {
  if (!target || target.kind !== 'text' || target.pos <= actor.joinedPos) return 'not_found';
  const kind = kindOf(m);
  // Hiding a tombstone is allowed, and so is taking back a save.
  if (target.deleted && kind !== 'hide' && kind !== 'unsave') return 'message_deleted';
  const own = target.senderId === m.senderId;
  const admin = actor.conversationKind === 'group' && actor.role === 'admin';
  switch (kind) {
    case 'edit':
      return own ? null : 'not_sender';
    case 'delete':
      return own || admin ? null : 'not_sender';
    case 'pin':
      if (actor.conversationKind === 'group' && !admin) return 'forbidden';
      return !target.pinned && target.chat.pins >= MAX_PINS ? 'too_many_pins' : null;
    case 'unpin':
      return actor.conversationKind === 'group' && !admin ? 'forbidden' : null;
    case 'react':
      return !target.emoji.has(m.text) && target.emoji.size >= MAX_REACTIONS_PER_MESSAGE
        ? 'too_many_reactions'
        : null;
    case 'text':
    case 'unreact':
    case 'hide':
    case 'save':
    case 'unsave':
      return null;
  }
}

/**
 * `target` after the stored event `m` (for a store that checks a batch's events before it
 * folds them: a later event of the batch sees the earlier ones).
 */
export function foldTarget(target: TargetState, m: NewMessage): void {
  switch (kindOf(m)) {
    case 'delete':
      target.deleted = true;
      if (target.pinned) target.chat.pins--;
      target.pinned = false;
      target.emoji.clear();
      return;
    case 'pin':
      if (!target.pinned) target.chat.pins++;
      target.pinned = true;
      return;
    case 'unpin':
      if (target.pinned) target.chat.pins--;
      target.pinned = false;
      return;
    case 'react':
      // An unreact may leave others' reactions with the emoji: the count stays an upper bound.
      target.emoji.add(m.text);
      return;
    default:
      return;
  }
}
