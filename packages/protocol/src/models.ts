/** JSON shapes shared by the HTTP API and WebSocket frames. Times are milliseconds since the epoch. */

export interface User {
  id: string;
  username: string;
  displayName: string;
}

export interface Device {
  id: string;
  name: string;
  createdAt: number;
  lastSeenAt: number;
  /** True for the device whose token made the request. */
  current: boolean;
}

export interface Session {
  /** Bearer token: shown once, stored only hashed on the server. */
  token: string;
  user: User;
  device: Device;
}

export interface Message {
  /** Globally unique, time-sortable id (ULID). */
  id: string;
  conversationId: string;
  /** Per-conversation sequence number: 1, 2, 3, ... with no gaps. */
  seq: number;
  /**
   * Position in the recipients' change feed. Increases with every stored message; a device
   * that has seen `pos` resumes catch-up from it (`sync.since`).
   */
  pos: number;
  senderId: string;
  /** The id the sending client chose; resending it never stores a second message. */
  clientId: string;
  /**
   * 'text' is a content message (what history shows). Every other kind is an event about the
   * content message at `target` in the same conversation, with its own seq and feed position:
   * clients apply it to that message (`applyEvent` in the SDK). See protocol.md §5.3.
   */
  kind: MessageKind;
  /**
   * A content message: its current text ('' once deleted for everyone). An `edit`: the new
   * text. A `react` or `unreact`: the emoji. Other events: ''.
   */
  text: string;
  createdAt: number;
  /** Events: the seq of the content message they act on. */
  target?: number;
  /** Content: when the sender last edited it (the text is the latest version). */
  editedAt?: number;
  /** Content: deleted for everyone (a tombstone: text '', no reactions, no reply). */
  deleted?: true;
  /** Content: the message it answers, as that message is now. */
  replyTo?: ReplySnippet;
  /** Content: copied from another message by `POST /v1/conversations/:id/forward`. */
  forwarded?: true;
  /** Content in groups: ids of the members the text mentions as `@username`. */
  mentions?: string[];
  /** Content: reactions, one entry per emoji, in the order first used. */
  reactions?: Reaction[];
  /** Content: pinned in its conversation since this time. */
  pinnedAt?: number;
  /** Content, as read by me: I saved it (`save` event). */
  saved?: true;
  /** Content: its files (1-10), in the order sent; absent when none or once deleted for everyone. */
  attachments?: Attachment[];
  /** Content: the page its text's first URL links to, when the sender asked for it; absent once edited or deleted. */
  preview?: LinkPreview;
}

/**
 * What a link leads to, as the server read the page (GET /v1/link-preview). No image: an
 * external image would tell its site who reads the message.
 */
export interface LinkPreview {
  /** The page's URL (after redirects). */
  url: string;
  title: string;
  description?: string;
  siteName?: string;
}

/** How an attachment is shown: from its sniffed bytes, never from what the client claimed. */
export type AttachmentKind = 'image' | 'video' | 'audio' | 'file';

/** A finished upload as a message carries it (GET /v1/files/:id serves its bytes). */
export interface Attachment {
  /** The upload id. */
  id: string;
  kind: AttachmentKind;
  /** File name as sent, sanitized (no path, no control or bidi characters), at most 255 characters. */
  name: string;
  /** Bytes as stored (photos: after metadata stripping). */
  size: number;
  /** Sniffed type; 'application/octet-stream' when unknown. */
  mime: string;
  /** Images: displayed size. */
  width?: number;
  height?: number;
  /** Audio and video: from the bytes when known, else the sender's value bounded to [0, 3 h]. */
  durationMs?: number;
  /** Images: ThumbHash, base64. */
  placeholder?: string;
  /** A thumbnail exists at GET /v1/files/:id/thumbnail. */
  thumbnail?: boolean;
  /** Voice notes: client-computed peaks, base64, at most 128 bytes (one byte per bar, 0-255). */
  waveform?: string;
}

/** An upload named by a send: the sender's own, finished, not attached to another message. */
export interface AttachmentRef {
  uploadId: string;
  /** Audio and video: the duration the client measured, used when the bytes have none. */
  durationMs?: number;
  /** Voice notes: peaks, base64, at most 128 bytes. */
  waveform?: string;
}

/** What a message is: content, or an event on a content message (see `Message.kind`). */
export type MessageKind =
  'text' | 'edit' | 'delete' | 'hide' | 'react' | 'unreact' | 'pin' | 'unpin' | 'save' | 'unsave';

/** Events whose only audience is their author's devices. */
export const PRIVATE_KINDS: ReadonlySet<MessageKind> = new Set(['hide', 'save', 'unsave']);

/** The start of a replied-to message, as it is now. */
export interface ReplySnippet {
  seq: number;
  senderId: string;
  /** At most REPLY_SNIPPET_CODE_POINTS code points; '' when deleted. */
  text: string;
  deleted?: true;
}

/** One emoji's reactions on a message. */
export interface Reaction {
  emoji: string;
  count: number;
  userIds: string[];
}

/** An action on a message (the `action` frame and `POST /v1/conversations/:id/actions`). */
export type MessageAction =
  | { kind: 'edit'; target: number; text: string }
  | { kind: 'delete' | 'hide' | 'pin' | 'unpin' | 'save' | 'unsave'; target: number }
  | { kind: 'react' | 'unreact'; target: number; emoji: string };

/** A page of messages across conversations, newest first (`GET /v1/mentions`, `GET /v1/saved`). */
export interface MessageListPage {
  messages: Message[];
  /** Pass as `before` for the next (older) page; absent when there is none. */
  next?: string;
}

export type ConversationKind = 'direct' | 'group';

export interface Member {
  userId: string;
  username: string;
  displayName: string;
  role: 'admin' | 'member';
  joinedAt: number;
  /** This member's read cursor: every message with seq <= readSeq is read. */
  readSeq: number;
  /** This member's delivered cursor: some device of theirs has every message with seq <= deliveredSeq. */
  deliveredSeq: number;
}

export interface Conversation {
  id: string;
  kind: ConversationKind;
  /** Group name; for a direct conversation, the other user's display name. */
  name: string;
  createdAt: number;
  /** Time of the latest message, or creation time if there is none. */
  lastActivityAt: number;
  /** Seq of the latest message (0 when empty). */
  lastSeq: number;
  lastMessage: Message | null;
  /** Messages after my read cursor sent by others. */
  unread: number;
  /** My read cursor. */
  readSeq: number;
  memberCount: number;
  /** For direct conversations: the other user (or me, in a note-to-self). */
  peer?: User;
  /**
   * Groups: who sent `lastMessage` (as they are named now), so a list can show "Carol: …"
   * without loading the members. Absent in direct conversations and while there is no message.
   */
  lastSender?: User;
  /** My role in this conversation. */
  role: 'admin' | 'member';
  /** Direct conversations: how far the other member has received (sent → delivered ticks). */
  peerDeliveredSeq?: number;
  /** Direct conversations: how far the other member has read (read ticks). */
  peerReadSeq?: number;
  /**
   * Present while I muted push notifications for this conversation: when they resume, or
   * null for "until I unmute". Absent when not muted (an expired mute is absent too).
   */
  mutedUntil?: number | null;
  /** Present while my mute (`mutedUntil`) covers mentions of me too. */
  mutedMentions?: true;
  /**
   * Present when I left this group or an admin removed me: it stays in my list, read-only,
   * with its history up to `seq`, until I delete it (`DELETE /v1/conversations/:id`) or am
   * added again. `by` is the admin who removed me, null when I left.
   */
  left?: LeftInfo;
  /**
   * Present (true) on a message request: a direct conversation someone who is not my contact
   * opened with me. It stays apart from my chats, sends me no push notification and shows no
   * presence either way until I accept it (`POST /v1/conversations/:id/accept`) or reply; I
   * can also delete it (`DELETE /v1/conversations/:id`) or block the sender.
   */
  request?: true;
}

/** How I stopped being a member of a group (`Conversation.left`). */
export interface LeftInfo {
  at: number;
  /** The last message I can read (the group's `lastSeq` when I left). */
  seq: number;
  by: User | null;
}

/** Online state and last seen of a user, as the caller may see it. */
export interface Presence {
  userId: string;
  online: boolean;
  /** Last time any device of the user was active (heartbeat); null when never seen. */
  lastActiveAt: number | null;
}

/** How the caller and another user are related. */
export type ContactState = 'accepted' | 'incoming' | 'outgoing' | 'none';

export interface Contact {
  user: User;
  /** Since when we are contacts. */
  since: number;
  presence: Presence;
}

export interface ContactList {
  contacts: Contact[];
  /** Requests to me, waiting for my answer. */
  incoming: User[];
  /** My requests, waiting for theirs. */
  outgoing: User[];
  /** Users I blocked. */
  blocked: User[];
}

/** A member's receipt cursors in a conversation. */
export interface ReceiptCursor {
  userId: string;
  deliveredSeq: number;
  readSeq: number;
}

/** Who has a given message (`GET /v1/conversations/:id/receipts?seq=`), sender excluded. */
export interface MessageReceipts {
  seq: number;
  delivered: string[];
  read: string[];
}

/** Result of sending a message: returned by HTTP POST and in the WebSocket `ack` frame. */
export interface Ack {
  clientId: string;
  conversationId: string;
  id: string;
  seq: number;
  pos: number;
  createdAt: number;
  /** True when this client id had already been stored: the original ack is returned. */
  duplicate: boolean;
}

export interface HistoryPage {
  messages: Message[];
  /** True when more messages exist beyond this page in the requested direction. */
  hasMore: boolean;
}

/** One message a search found. */
export interface SearchHit {
  message: Message;
  /** Same as `message.conversationId` and `message.seq`: where to open the history. */
  conversationId: string;
  seq: number;
  /**
   * Where the query's words are in `message.text`: [start, end) offsets in UTF-16 units (JavaScript
   * string indices), sorted, not overlapping.
   */
  highlights: [number, number][];
}

/** A page of search hits, best first. */
export interface SearchPage {
  hits: SearchHit[];
  /** Pass as `cursor` for the next page; null on the last one. */
  cursor: string | null;
}

export interface SyncPage {
  messages: Message[];
  /** Highest feed position read (older clients pass it as `since`; same as `cursor` with one position space). */
  pos: number;
  /** Feed cursor to pass as `since` for the next page. */
  cursor: string;
  hasMore: boolean;
}

/** The chat server a client should connect to (`GET /v1/discovery`). */
export interface Discovery {
  /** WebSocket URL, e.g. `wss://chat-2.example.com/v1/ws`. */
  url: string;
  serverId: string;
  region: string;
}

/** My account settings (`GET /v1/me/settings`). */
export interface UserSettings {
  /**
   * Push notifications show the message text (default true). False: they only say who wrote
   * ("New message from Ana"), so nothing of the text leaves the server through a push service.
   */
  pushPreview: boolean;
}

/** Who may see my online state or last seen: everyone I share a conversation with, my contacts, nobody. */
export type PresenceAudience = 'everyone' | 'contacts' | 'nobody';

/** My privacy settings (`GET /v1/me/privacy`); defaults in `DEFAULT_PRIVACY`. */
export interface PrivacySettings {
  /** Who sees when I was last active (default `contacts`: my accepted contacts only). */
  lastSeen: PresenceAudience;
  /** Who sees that I am online now (default `contacts`). */
  online: PresenceAudience;
  /**
   * Who may start a 1:1 chat with me: `everyone`; `requests` (default): a first message from
   * someone who is not my contact arrives as a request; `contacts`: contacts only.
   */
  directMessages: 'everyone' | 'requests' | 'contacts';
  /** Who may add me to a group (default `contacts`). */
  groupAdds: 'everyone' | 'contacts';
}

/** Privacy settings of a user who never changed them. */
export const DEFAULT_PRIVACY: Readonly<PrivacySettings> = Object.freeze({
  lastSeen: 'contacts',
  online: 'contacts',
  directMessages: 'requests',
  groupAdds: 'contacts',
});

/** Where a push subscription delivers: the browser's Web Push service, or a native app's FCM or APNs token. */
export type PushKind = 'webpush' | 'fcm' | 'apns';

/** A registered push endpoint of one of my devices. */
export interface PushSubscriptionInfo {
  id: string;
  kind: PushKind;
  /** The device it belongs to: logging that device out or revoking it removes the subscription. */
  deviceId: string;
  createdAt: number;
}

/**
 * What a push notification carries (the decrypted Web Push payload; FCM `data`; APNs
 * `parley` key). One notification per message; a burst in one conversation shares one
 * collapse key (`tag`), and `unread` says how many are waiting there.
 */
export interface PushPayload {
  type: 'message';
  conversationId: string;
  /** Group name, or the sender's display name in a direct conversation. */
  conversationName: string;
  kind: ConversationKind;
  messageId: string;
  seq: number;
  senderId: string;
  senderName: string;
  /** The start of the text (at most 200 code points); absent when my `pushPreview` is off. */
  text?: string;
  /** Messages after my read cursor in this conversation when this one was stored (at least 1). */
  unread: number;
  createdAt: number;
  /** Collapse key shared by every notification of this conversation (Web Push `Topic`). */
  tag: string;
}
