/**
 * HTTP API contract (JSON over HTTP under /v1). Authenticated routes take
 * `Authorization: Bearer <token>`. Errors answer with the registry's status and an `ErrorBody`.
 * The SDK's `ParleyHttp` implements exactly these routes.
 */
import type {
  Ack,
  AttachmentRef,
  ContactList,
  ContactState,
  Conversation,
  Device,
  Discovery,
  HistoryPage,
  Member,
  Message,
  MessageAction,
  MessageListPage,
  MessageReceipts,
  Presence,
  PrivacySettings,
  PushSubscriptionInfo,
  Session,
  LinkPreview,
  SearchPage,
  SyncPage,
  User,
  UserSettings,
} from './models.js';
import type { ErrorCode } from './errors.js';

export interface SignupRequest {
  username: string;
  password: string;
  displayName?: string;
}
export interface LoginRequest {
  username: string;
  password: string;
  /** Shown in the device list, e.g. "Chrome on Linux". */
  deviceName?: string;
}
export interface UpdateMeRequest {
  displayName: string;
}
export interface DirectRequest {
  /** The other user's username (or pass userId). */
  username?: string;
  userId?: string;
}
export interface GroupRequest {
  name: string;
  /** Usernames of the other members (the creator is added as admin). */
  members: string[];
}
export interface AddMembersRequest {
  usernames: string[];
}
export interface SendRequest {
  clientId: string;
  /** The text, or with attachments a caption that may be empty. */
  text: string;
  /** Seq of a content message of the same conversation this one answers. */
  replyTo?: number;
  /** 1-10 finished uploads of the sender. */
  attachments?: AttachmentRef[];
  /** True: attach the server's preview of the text's first URL, if it has one ready. */
  preview?: boolean;
}
/** An action on a message: same validation, idempotency and ack as the WebSocket `action`. */
export interface ActionRequest {
  clientId: string;
  action: MessageAction;
}
/** Forward message `seq` of this conversation to up to 10 others (one new message each). */
export interface ForwardRequest {
  clientId: string;
  seq: number;
  to: string[];
}
/** One answer per target of a forward, in the order given. */
export interface ForwardResult {
  results: ({ ok: true; ack: Ack } | { ok: false; conversationId: string; code: ErrorCode })[];
}
export interface ReadRequest {
  seq: number;
}
export interface RenameRequest {
  name: string;
}
export interface UserTarget {
  /** The other user's username (or pass userId). */
  username?: string;
  userId?: string;
}

/** `PATCH /v1/me/settings`: the settings to change (others stay). */
export type UpdateSettingsRequest = Partial<UserSettings>;

/** `PATCH /v1/me/privacy`: the privacy settings to change (others stay). */
export type UpdatePrivacyRequest = Partial<PrivacySettings>;

/** `PUT /v1/conversations/:id/mute`: no push notifications from this conversation until `until`. */
export interface MuteRequest {
  /** When notifications resume (ms since the epoch), or null for "until I unmute". */
  until: number | null;
  /** Mentions of me are muted too (default false: a message that mentions me is still pushed). */
  mentions?: boolean;
}

/**
 * `POST /v1/push/subscriptions`: register a push endpoint of the calling device. A browser
 * sends its `PushSubscription` (`subscription.toJSON()` plus `kind: 'webpush'`); a native
 * app sends its FCM registration token or APNs device token (hex).
 */
export type RegisterPushRequest =
  | { kind: 'webpush'; endpoint: string; keys: { p256dh: string; auth: string } }
  | { kind: 'fcm'; token: string }
  | { kind: 'apns'; token: string };

/**
 * Every route: method, path, request body, response body. `:id` and `:userId` are path
 * parameters. Query parameters are described on the route.
 */
export interface Routes {
  'POST /v1/users': { body: SignupRequest; res: User; auth: false };
  'POST /v1/sessions': { body: LoginRequest; res: Session; auth: false };
  /** Log out the calling device (its token stops working, its sockets close). */
  'DELETE /v1/sessions/current': { body: undefined; res: { ok: true }; auth: true };
  'GET /v1/me': { body: undefined; res: User; auth: true };
  'PATCH /v1/me': { body: UpdateMeRequest; res: User; auth: true };
  'GET /v1/users/:username': { body: undefined; res: User; auth: true };
  'GET /v1/devices': { body: undefined; res: { devices: Device[] }; auth: true };
  /** Revoke a device of mine: its sessions end and its WebSockets close within a second. */
  'DELETE /v1/devices/:id': { body: undefined; res: { ok: true }; auth: true };
  /** List my conversations, latest activity first. Query: `limit` (default 100, max 500). */
  'GET /v1/conversations': { body: undefined; res: { conversations: Conversation[] }; auth: true };
  /** Get or create the 1:1 conversation with a user (idempotent). */
  'POST /v1/conversations/direct': { body: DirectRequest; res: Conversation; auth: true };
  'POST /v1/conversations/groups': { body: GroupRequest; res: Conversation; auth: true };
  'GET /v1/conversations/:id': { body: undefined; res: Conversation; auth: true };
  'PATCH /v1/conversations/:id': { body: RenameRequest; res: Conversation; auth: true };
  /** Delete a group I left, or a message request, from my list, on every device (`still_member` while I am in it). */
  'DELETE /v1/conversations/:id': { body: undefined; res: { ok: true }; auth: true };
  /** Accept a message request: it becomes a normal chat. */
  'POST /v1/conversations/:id/accept': { body: undefined; res: Conversation; auth: true };
  'GET /v1/conversations/:id/members': { body: undefined; res: { members: Member[] }; auth: true };
  'POST /v1/conversations/:id/members': { body: AddMembersRequest; res: { members: Member[] }; auth: true };
  /** Remove a member (admins), or leave when `:userId` is my own id. */
  'DELETE /v1/conversations/:id/members/:userId': { body: undefined; res: { ok: true }; auth: true };
  /** Make a member an admin (admins only). */
  'POST /v1/conversations/:id/admins/:userId': { body: undefined; res: { members: Member[] }; auth: true };
  /** History by seq. Query: `before` or `after` (a seq), `limit` (default 50, max 200). */
  'GET /v1/conversations/:id/messages': { body: undefined; res: HistoryPage; auth: true };
  /** The HTTP sender path: same validation, idempotency and ack as the WebSocket `send`. */
  'POST /v1/conversations/:id/messages': { body: SendRequest; res: Ack; auth: true };
  /** Act on a message of this conversation (edit, delete, hide, react, pin, save, ...). */
  'POST /v1/conversations/:id/actions': { body: ActionRequest; res: Ack; auth: true };
  /** Forward a message of this conversation; each target answers alone (`ForwardResult`). */
  'POST /v1/conversations/:id/forward': { body: ForwardRequest; res: ForwardResult; auth: true };
  /** Pinned messages of a conversation, most recently pinned first. */
  'GET /v1/conversations/:id/pins': { body: undefined; res: { messages: Message[] }; auth: true };
  /** Messages that mention me, newest first. Query: `before` (a `next`), `limit` (default 50, max 200). */
  'GET /v1/mentions': { body: undefined; res: MessageListPage; auth: true };
  /** Messages I saved, most recently saved first. Query: `before` (a `next`), `limit` (default 50, max 200). */
  'GET /v1/saved': { body: undefined; res: MessageListPage; auth: true };
  'POST /v1/conversations/:id/read': { body: ReadRequest; res: { seq: number }; auth: true };
  /**
   * Full-text search over the messages I can see (conversations I am in, from when I joined;
   * groups I left, up to when I left), best first. Query: `q` (required, at most 256
   * characters), `conversation`, `sender` (a user id), `before`, `after` (ms), `limit`
   * (default 20, max 50), `cursor` (the last page's).
   */
  'GET /v1/search': { body: undefined; res: SearchPage; auth: true };
  /**
   * The server's preview of the page at `url` (query, http(s), at most 2048 characters), for
   * the app to show while composing; 404 `not_found` when it has none or previews are off.
   * At most 30 per user per minute.
   */
  'GET /v1/link-preview': { body: undefined; res: LinkPreview; auth: true };
  /** My change feed after `since` (query), in order. Query: `since` (default 0), `limit` (max 500). */
  'GET /v1/sync': { body: undefined; res: SyncPage; auth: true };
  /** Who has message `seq` (query) delivered and read, the sender excluded. */
  'GET /v1/conversations/:id/receipts': { body: undefined; res: MessageReceipts; auth: true };
  /** Contacts with presence, pending requests both ways, and users I blocked. */
  'GET /v1/contacts': { body: undefined; res: ContactList; auth: true };
  /** Ask a user to be my contact (accepts at once if they already asked me). */
  'POST /v1/contacts': { body: UserTarget; res: { state: ContactState }; auth: true };
  'POST /v1/contacts/:userId/accept': { body: undefined; res: { state: ContactState }; auth: true };
  'POST /v1/contacts/:userId/decline': { body: undefined; res: { state: ContactState }; auth: true };
  /** Remove a contact, or cancel my request. */
  'DELETE /v1/contacts/:userId': { body: undefined; res: { state: ContactState }; auth: true };
  /** Block a user: no 1:1 messages either way, no adding me to groups, no presence. */
  'POST /v1/blocks': { body: UserTarget; res: { ok: true }; auth: true };
  'DELETE /v1/blocks/:userId': { body: undefined; res: { ok: true }; auth: true };
  /**
   * Presence of up to 100 users (query `userIds`, comma-separated). Users the caller may not
   * see (strangers, blocked either way) are left out of the answer.
   */
  'GET /v1/presence': { body: undefined; res: { presence: Presence[] }; auth: true };
  /**
   * The best chat server for this client: healthy, least loaded, in the `region` (query) if
   * one is there. Clients call it before every (re)connect.
   */
  'GET /v1/discovery': { body: undefined; res: Discovery; auth: false };
  /** My settings (push previews). */
  'GET /v1/me/settings': { body: undefined; res: UserSettings; auth: true };
  'PATCH /v1/me/settings': { body: UpdateSettingsRequest; res: UserSettings; auth: true };
  /** My privacy settings: who sees my presence, who may message me or add me to groups. */
  'GET /v1/me/privacy': { body: undefined; res: PrivacySettings; auth: true };
  'PATCH /v1/me/privacy': { body: UpdatePrivacyRequest; res: PrivacySettings; auth: true };
  /** Mute push notifications from a conversation (for me only); answers the updated conversation. */
  'PUT /v1/conversations/:id/mute': { body: MuteRequest; res: Conversation; auth: true };
  'DELETE /v1/conversations/:id/mute': { body: undefined; res: Conversation; auth: true };
  /** The server's VAPID public key (base64url), the `applicationServerKey` of `pushManager.subscribe`. */
  'GET /v1/push/vapid': { body: undefined; res: { publicKey: string }; auth: false };
  /**
   * Register a push endpoint for the calling device (idempotent: the same endpoint or token
   * again answers the same subscription, moved to this device if another one had it).
   */
  'POST /v1/push/subscriptions': { body: RegisterPushRequest; res: PushSubscriptionInfo; auth: true };
  /** The push subscriptions of all my devices. */
  'GET /v1/push/subscriptions': {
    body: undefined;
    res: { subscriptions: PushSubscriptionInfo[] };
    auth: true;
  };
  /** Unsubscribe (any of my subscriptions). */
  'DELETE /v1/push/subscriptions/:id': { body: undefined; res: { ok: true }; auth: true };
}
