/**
 * Row shapes shared by the SQL adapters (both use the same column names) and their mapping
 * to the store's types.
 */
import { REPLY_SNIPPET_CODE_POINTS } from '@parley/protocol';
import type {
  Attachment,
  LinkPreview,
  Message,
  MessageKind,
  PrivacySettings,
  Reaction,
  ReplySnippet,
} from '@parley/protocol';
import type {
  ContactRow,
  ConversationRow,
  ConversationSummaryRow,
  CursorRow,
  DeviceRow,
  LeftRow,
  MemberRow,
  PushJobRow,
  PushSubscriptionRow,
  UserRow,
} from '../store.js';

export interface MessageDbRow {
  conversation_id: string;
  seq: number;
  pos: number;
  id: string;
  sender_id: string;
  client_id: string;
  text: string;
  created_at: number;
  /** The action columns (absent where a statement does not select them). */
  kind?: MessageKind;
  target?: number | string | null;
  reply_to?: number | string | null;
  /** 0/1 in SQLite, boolean in PostgreSQL. */
  forwarded?: number | boolean;
  /** JSON array of user ids. */
  mentions?: string | null;
  /** JSON array of Attachment. */
  attachments?: string | null;
  /** JSON LinkPreview. */
  preview?: string | null;
  edited_at?: number | string | null;
  deleted?: number | boolean;
  pinned_at?: number | string | null;
  /** The replied-to message, joined (see REPLY_JOIN). */
  r_sender?: string | null;
  r_text?: string | null;
  r_deleted?: number | boolean | null;
  /** JSON array of Reaction (see REACTIONS_JSON), null for none. */
  reactions?: string | null;
  /** 1/true when the reader saved it. */
  saved?: number | boolean | null;
}

/** Columns of the replied-to message `r`, named as MessageDbRow reads them. */
export const REPLY_COLUMNS = 'r.sender_id AS r_sender, r.text AS r_text, r.deleted AS r_deleted';

/** A content message and its events as the protocol carries them, from its row. */
export function toMessage(r: MessageDbRow): Message {
  const m: Message = {
    id: r.id,
    conversationId: r.conversation_id,
    seq: Number(r.seq),
    pos: Number(r.pos),
    senderId: r.sender_id,
    clientId: r.client_id,
    kind: r.kind ?? 'text',
    text: r.text,
    createdAt: Number(r.created_at),
  };
  if (r.target !== null && r.target !== undefined) m.target = Number(r.target);
  if (r.edited_at !== null && r.edited_at !== undefined) m.editedAt = Number(r.edited_at);
  if (r.deleted === true || r.deleted === 1) m.deleted = true;
  if (r.reply_to !== null && r.reply_to !== undefined && r.r_sender) {
    m.replyTo = replySnippet(
      Number(r.reply_to),
      r.r_sender,
      r.r_text ?? '',
      r.r_deleted === true || r.r_deleted === 1,
    );
  }
  if (r.forwarded === true || r.forwarded === 1) m.forwarded = true;
  if (r.mentions) m.mentions = JSON.parse(r.mentions) as string[];
  if (r.attachments) m.attachments = JSON.parse(r.attachments) as Attachment[];
  if (r.preview) m.preview = JSON.parse(r.preview) as LinkPreview;
  if (r.reactions) m.reactions = JSON.parse(r.reactions) as Reaction[];
  if (r.pinned_at !== null && r.pinned_at !== undefined) m.pinnedAt = Number(r.pinned_at);
  if (r.saved === true || r.saved === 1) m.saved = true;
  return m;
}

/** The reply snippet of a message answering message `seq` (its start, or '' once deleted). */
export function replySnippet(seq: number, senderId: string, text: string, deleted: boolean): ReplySnippet {
  const cut = deleted ? '' : [...text].slice(0, REPLY_SNIPPET_CODE_POINTS).join('');
  return deleted ? { seq, senderId, text: '', deleted: true } : { seq, senderId, text: cut };
}

export interface UserDbRow {
  id: string;
  username: string;
  display_name: string;
  password_hash: string;
  created_at: number;
  last_active_at: number | null;
  /** 0/1 in SQLite, boolean in PostgreSQL; absent when not selected. */
  push_preview?: number | boolean;
}
export const toUser = (r: UserDbRow): UserRow => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  lastActiveAt: r.last_active_at,
  pushPreview: r.push_preview !== 0 && r.push_preview !== false,
});

/** The privacy columns of `users`, named as in both schemas. */
export interface PrivacyDbRow {
  privacy_last_seen: PrivacySettings['lastSeen'];
  privacy_online: PrivacySettings['online'];
  privacy_direct_messages: PrivacySettings['directMessages'];
  privacy_group_adds: PrivacySettings['groupAdds'];
}
export const PRIVACY_COLUMNS =
  'privacy_last_seen, privacy_online, privacy_direct_messages, privacy_group_adds';
export const toPrivacy = (r: PrivacyDbRow): PrivacySettings => ({
  lastSeen: r.privacy_last_seen,
  online: r.privacy_online,
  directMessages: r.privacy_direct_messages,
  groupAdds: r.privacy_group_adds,
});
export interface PushSubscriptionDbRow {
  id: string;
  user_id: string;
  device_id: string;
  kind: PushSubscriptionRow['kind'];
  address: string;
  p256dh: string | null;
  auth: string | null;
  created_at: number;
}
export const toPushSubscription = (r: PushSubscriptionDbRow): PushSubscriptionRow => ({
  id: r.id,
  userId: r.user_id,
  deviceId: r.device_id,
  kind: r.kind,
  address: r.address,
  p256dh: r.p256dh,
  auth: r.auth,
  createdAt: r.created_at,
});

/** A claimed job beside its subscription's columns (`j_` where they clash). */
export type PushJobDbRow = PushSubscriptionDbRow & {
  j_id: number;
  message_id: string;
  payload: string;
  attempts: number;
  j_created_at: number;
};
export const toPushJob = (r: PushJobDbRow): PushJobRow => ({
  id: r.j_id,
  messageId: r.message_id,
  payload: r.payload,
  attempts: r.attempts,
  createdAt: r.j_created_at,
  subscription: toPushSubscription(r),
});

export interface DeviceDbRow {
  id: string;
  user_id: string;
  name: string;
  created_at: number;
  last_seen_at: number;
}
export const toDevice = (r: DeviceDbRow): DeviceRow => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
});

/** A device's columns as the token lookup selects them beside its user's (`d_` where they clash). */
export interface DeviceJoinRow {
  d_id: string;
  user_id: string;
  d_name: string;
  d_created_at: number;
  last_seen_at: number;
}

export const deviceOfJoin = (r: DeviceJoinRow): DeviceRow => ({
  id: r.d_id,
  userId: r.user_id,
  name: r.d_name,
  createdAt: r.d_created_at,
  lastSeenAt: r.last_seen_at,
});

export interface ConversationDbRow {
  id: string;
  kind: 'direct' | 'group';
  name: string;
  created_at: number;
  last_activity_at: number;
  last_seq: number;
}
export const toConversation = (r: ConversationDbRow): ConversationRow => ({
  id: r.id,
  kind: r.kind,
  name: r.name,
  createdAt: r.created_at,
  lastActivityAt: r.last_activity_at,
  lastSeq: r.last_seq,
});

export interface MemberDbRow {
  conversation_id: string;
  user_id: string;
  role: 'admin' | 'member';
  joined_at: number;
  read_seq: number;
  delivered_seq: number;
  /** Non-null while the membership is a message request (hidden while last_seq <= it). */
  request_seq: number | string | null;
}
export const toMember = (r: MemberDbRow): MemberRow => ({
  conversationId: r.conversation_id,
  userId: r.user_id,
  role: r.role,
  joinedAt: r.joined_at,
  readSeq: r.read_seq,
  // Reading implies delivery.
  deliveredSeq: Math.max(r.delivered_seq, r.read_seq),
  request: r.request_seq !== null,
});

/** A member's cursors, as a receipt update returns them. */
export interface CursorDbRow {
  conversation_id: string;
  user_id: string;
  delivered_seq: number;
  read_seq: number;
}
export const toCursor = (r: CursorDbRow): CursorRow => ({
  conversationId: r.conversation_id,
  userId: r.user_id,
  // Reading implies delivery.
  deliveredSeq: Math.max(r.delivered_seq, r.read_seq),
  readSeq: r.read_seq,
});

export interface ContactDbRow {
  contact_id: string;
  state: ContactRow['state'];
  since: number;
}
export const toContact = (r: ContactDbRow): ContactRow => ({
  userId: r.contact_id,
  state: r.state,
  since: r.since,
});

export interface LeftDbRow {
  user_id: string;
  conversation_id: string;
  left_at: number;
  left_seq: number;
  left_by: string | null;
  name: string;
}
export const toLeft = (r: LeftDbRow): LeftRow => ({
  conversationId: r.conversation_id,
  userId: r.user_id,
  leftAt: Number(r.left_at),
  leftSeq: Number(r.left_seq),
  leftBy: r.left_by,
  name: r.name,
});

export type SummaryDbRow = ConversationDbRow & {
  role: 'admin' | 'member';
  read_seq: number;
  member_count: number;
  peer_id: string | null;
  peer_delivered_seq: number | null;
  peer_read_seq: number | null;
  muted_until: number | null;
  mute_mentions: number | boolean;
  request_seq: number | string | null;
  m_pos: number | null;
  m_id: string;
  m_seq: number;
  m_sender_id: string;
  m_client_id: string;
  m_text: string;
  m_created_at: number;
  m_edited_at: number | string | null;
  m_deleted: number | boolean | null;
  unread: number;
};

/** Unread counts stop at this many (a badge shows "9999+"), so a list costs the same however far behind. */
export const UNREAD_COUNT_CAP = 9999;

/**
 * The unread count of the member row aliased `member` (conversation_id, user_id, read_seq), as
 * one SQL expression for both stores, so the list's badge and a push's "3 new messages" agree:
 * content messages after the read cursor (up to the seq `upTo`, an SQL value, when given), sent
 * by others, not deleted for everyone; at most UNREAD_COUNT_CAP. (A message the member hid is
 * never after their cursor: every message or event they send moves it to its seq.)
 */
export function unreadCountSql(member: string, upTo?: string): string {
  const bound = upTo === undefined ? '' : ` AND u.seq <= ${upTo}`;
  return `(SELECT CAST(count(*) AS INTEGER) FROM (SELECT 1 FROM messages u
    WHERE u.conversation_id = ${member}.conversation_id AND u.seq > ${member}.read_seq${bound}
      AND u.kind = 'text' AND u.sender_id <> ${member}.user_id AND NOT u.deleted
    LIMIT ${UNREAD_COUNT_CAP}) u)`;
}

export function toSummary(r: SummaryDbRow): ConversationSummaryRow {
  return {
    ...toConversation(r),
    role: r.role,
    readSeq: r.read_seq,
    memberCount: r.member_count,
    peerId: r.peer_id,
    peerDeliveredSeq: r.peer_delivered_seq,
    peerReadSeq: r.peer_read_seq,
    mutedUntil: r.muted_until,
    mutedMentions: r.muted_until !== null && Boolean(r.mute_mentions),
    request: r.request_seq !== null,
    unread: Number(r.unread),
    lastMessage:
      r.m_pos === null
        ? null
        : {
            id: r.m_id,
            conversationId: r.id,
            seq: r.m_seq,
            pos: r.m_pos,
            senderId: r.m_sender_id,
            clientId: r.m_client_id,
            kind: 'text',
            text: r.m_text,
            createdAt: r.m_created_at,
            ...(r.m_edited_at === null ? {} : { editedAt: Number(r.m_edited_at) }),
            ...(r.m_deleted === true || r.m_deleted === 1 ? { deleted: true as const } : {}),
          },
  };
}
