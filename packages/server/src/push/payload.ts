/** What a notification says, the same for every provider (and mirrored by the web app's sw.ts). */
import { createHash } from 'node:crypto';
import type { Attachment, ConversationKind, PushPayload } from '@parley/protocol';
import type { PushMessage } from './provider.js';

/** Most code points of message text a notification carries (payloads must stay under 4 KB). */
export const PREVIEW_CODE_POINTS = 200;

/**
 * The collapse key of a conversation: 32 characters of base64url (the most an RFC 8030
 * `Topic` may have), the same for every message of the conversation, so a push service that
 * still holds an undelivered notification of it replaces that one instead of adding another.
 */
export function collapseKey(conversationId: string): string {
  return createHash('sha256').update(conversationId).digest('base64url').slice(0, 32);
}

/** The first `n` code points of a text, with an ellipsis when cut; whitespace runs folded. */
export function preview(text: string, n = PREVIEW_CODE_POINTS): string {
  const folded = text.replace(/\s+/g, ' ').trim();
  const cps = Array.from(folded);
  return cps.length <= n ? folded : `${cps.slice(0, n - 1).join('')}…`;
}

/** m:ss (h:mm:ss past an hour) of a duration in ms. */
function clock(ms: number): string {
  const s = Math.round(ms / 1000);
  const mmss = `${Math.floor(s / 60) % 60}:${String(s % 60).padStart(2, '0')}`;
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mmss.padStart(5, '0')}` : mmss;
}

/**
 * What a notification quotes of a message: its text, or for one with files the first file as
 * "📷 Photo", "🎥 Video", "🎤 Voice message 0:12" or "📎 <name>", then the caption if any.
 */
export function previewText(m: { text: string; attachments?: readonly Attachment[] }): string {
  const a = m.attachments?.[0];
  if (!a) return m.text;
  const label =
    a.kind === 'image'
      ? '📷 Photo'
      : a.kind === 'video'
        ? '🎥 Video'
        : a.kind === 'audio'
          ? `🎤 Voice message${a.durationMs === undefined ? '' : ` ${clock(a.durationMs)}`}`
          : `📎 ${a.name}`;
  const caption = m.text.trim();
  return caption === '' ? label : `${label.split(' ')[0] ?? ''} ${caption}`;
}

export interface PayloadInput {
  conversationId: string;
  conversationName: string;
  kind: ConversationKind;
  messageId: string;
  seq: number;
  senderId: string;
  senderName: string;
  text: string;
  createdAt: number;
  /** The recipient's read cursor in the conversation. */
  readSeq: number;
  /** The recipient's `pushPreview` setting: false leaves the text out. */
  showText: boolean;
}

export function buildPayload(i: PayloadInput): PushPayload {
  const p: PushPayload = {
    type: 'message',
    conversationId: i.conversationId,
    conversationName: i.conversationName,
    kind: i.kind,
    messageId: i.messageId,
    seq: i.seq,
    senderId: i.senderId,
    senderName: i.senderName,
    unread: Math.max(1, i.seq - i.readSeq),
    createdAt: i.createdAt,
    tag: collapseKey(i.conversationId),
  };
  if (i.showText) p.text = preview(i.text);
  return p;
}

/**
 * Title and body: the sender (or the group) and the text, "New message from Ana" when the
 * text is hidden, and "3 new messages" first when several are waiting in the conversation.
 */
export function notificationText(p: PushPayload): { title: string; body: string } {
  const title = p.kind === 'group' ? p.conversationName : p.senderName;
  const line =
    p.text === undefined
      ? `New message from ${p.senderName}`
      : p.kind === 'group'
        ? `${p.senderName}: ${p.text}`
        : p.text;
  return { title, body: p.unread > 1 ? `${p.unread} new messages\n${line}` : line };
}

export function toPushMessage(payload: PushPayload, ttlSec: number): PushMessage {
  return {
    payload,
    json: JSON.stringify(payload),
    ...notificationText(payload),
    collapseKey: payload.tag,
    ttlSec,
  };
}
