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
  text: string;
  createdAt: number;
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
  /** My role in this conversation. */
  role: 'admin' | 'member';
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

export interface SyncPage {
  messages: Message[];
  /** Feed position to pass as `since` for the next page. */
  pos: number;
  hasMore: boolean;
}
