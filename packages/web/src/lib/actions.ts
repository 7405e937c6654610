/** Who may do what to a message (the server's rules, protocol.md §5.6), and message links. */
import type { Conversation, Message } from '@parley/protocol';

/** The reactions offered first in a message's menu. */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'] as const;

/** My own content, not deleted. */
export function canEdit(m: Message, me: string): boolean {
  return m.senderId === me && m.deleted !== true;
}

/** Mine, or any in a group where I am an admin. */
export function canDeleteForEveryone(c: Conversation, m: Message, me: string): boolean {
  return m.senderId === me || (c.kind === 'group' && c.role === 'admin');
}

/** In a group only admins pin; in a 1:1 both. */
export function canPin(c: Conversation): boolean {
  return c.kind === 'direct' || c.role === 'admin';
}

export function messageLink(conversationId: string, seq: number): string {
  return `#/c/${encodeURIComponent(conversationId)}/m/${seq}`;
}

/** A forward goes to at most this many chats (the server's limit). */
export const MAX_FORWARD_TARGETS = 10;
