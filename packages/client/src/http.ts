/** `ParleyHttp`: one typed method per route of the HTTP API (packages/protocol/src/http.ts). */
import type {
  Ack,
  ActionRequest,
  Attachment,
  ForwardRequest,
  ForwardResult,
  Message,
  MessageListPage,
  ContactList,
  ContactState,
  MessageReceipts,
  Presence,
  PrivacySettings,
  Conversation,
  Device,
  Discovery,
  GroupRequest,
  HistoryPage,
  LoginRequest,
  Member,
  MuteRequest,
  PushSubscriptionInfo,
  RegisterPushRequest,
  Routes,
  SendRequest,
  Session,
  SignupRequest,
  LinkPreview,
  SearchPage,
  SyncPage,
  UpdateMeRequest,
  UpdatePrivacyRequest,
  UpdateSettingsRequest,
  User,
  UserSettings,
} from '@parley/protocol';
import { ParleyError, isErrorCode } from '@parley/protocol';
import { fetchFile, getUpload, tusUpload } from './attachments.js';
import { codeForStatus } from './status.js';
import type { FileOptions, UploadOptions, UploadTransport } from './attachments.js';

/** The part of `fetch` the SDK uses; `globalThis.fetch` and undici's fetch both fit. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Options of `ParleyHttp`. */
export interface ParleyHttpOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:8080`; a path prefix is kept. Required. */
  baseUrl: string;
  /** Session token, sent as `Authorization: Bearer <token>`. Default: none (signup and login only). */
  token?: string;
  /** `fetch` implementation. Default: `globalThis.fetch`, looked up at each call. */
  fetch?: FetchLike;
}

/** Query parameters of `history`. */
export interface HistoryQuery {
  /** Messages with a smaller seq (older), newest first up to `limit`. */
  before?: number;
  /** Messages with a larger seq (newer). */
  after?: number;
  /** Page size; default 50, max 200 (server side). */
  limit?: number;
}

/** What `search` looks for: `q`, the words (the last one also as a prefix), and filters. */
export interface SearchQuery {
  q: string;
  /** Only this conversation. */
  conversation?: string;
  /** Only messages of this user (an id). */
  sender?: string;
  /** Only messages created before / after this time (ms). */
  before?: number;
  after?: number;
  /** Page size; default 20, max 50 (server side). */
  limit?: number;
  /** The last page's `cursor`, for the next page. */
  cursor?: string;
}

/** Query parameters of `sync`. */
export interface SyncQuery {
  /** Feed cursor to read after: the last page's `cursor` (a position also works). Default: the start. */
  since?: string | number;
  /** Page size; max 500 (server side). */
  limit?: number;
}

/** Who a direct conversation is with: a username or a user id. */
export type DirectTarget = { username: string; userId?: never } | { userId: string; username?: never };

type Route = keyof Routes;
type Res<R extends Route> = Routes[R]['res'];
/** Names of the `:params` in a route's path. */
type PathParams<S extends string> = S extends `${string}:${infer Name}/${infer Rest}`
  ? Name | PathParams<`/${Rest}`>
  : S extends `${string}:${infer Name}`
    ? Name
    : never;

type QueryValue = number | string | undefined;

interface CallOptions<R extends Route> {
  params?: Record<PathParams<R>, string>;
  query?: Record<string, QueryValue>;
  body?: Routes[R]['body'];
}

/** Routes that take no token (everything else sends the bearer header). */
const PUBLIC_ROUTES: ReadonlySet<Route> = new Set<Route>([
  'POST /v1/users',
  'POST /v1/sessions',
  'GET /v1/discovery',
  'GET /v1/push/vapid',
]);

/**
 * A `ParleyError` for a code received from the server. A code this SDK does not know (a
 * newer server) becomes `internal` with the original code kept in the message.
 */
export function toParleyError(code: unknown, message: unknown): ParleyError {
  const text = typeof message === 'string' ? message : undefined;
  if (isErrorCode(code)) return new ParleyError(code, text);
  return new ParleyError('internal', `${String(code)}: ${text ?? 'unknown error'}`);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Typed client of the Parley HTTP API. Every method throws `ParleyError` on failure. */
export class ParleyHttp {
  #baseUrl: string;
  #token: string | undefined;
  #fetch: FetchLike | undefined;
  /** My user id, learned from `me()` or `login()`, valid for that token only. */
  #me: { token: string; userId: string } | undefined;

  constructor(options: ParleyHttpOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#fetch = options.fetch;
  }

  /** The session token in use, if any. */
  get token(): string | undefined {
    return this.#token;
  }

  /** Use another session token (or none) from the next request on. It is never put in a URL. */
  setToken(token: string | undefined): void {
    this.#token = token;
  }

  /** Create an account. Does not log in. */
  signup(req: SignupRequest): Promise<User> {
    return this.#call('POST /v1/users', { body: req });
  }

  /** Log in a new device. The returned token is not installed: call `setToken(session.token)`. */
  async login(req: LoginRequest): Promise<Session> {
    const session = await this.#call('POST /v1/sessions', { body: req });
    this.#me = { token: session.token, userId: session.user.id };
    return session;
  }

  /** Log out this device: its token stops working and its sockets close. */
  logout(): Promise<Res<'DELETE /v1/sessions/current'>> {
    return this.#call('DELETE /v1/sessions/current', {});
  }

  /** The logged-in user. */
  async me(): Promise<User> {
    const token = this.#token;
    const user = await this.#call('GET /v1/me', {});
    if (token !== undefined) this.#me = { token, userId: user.id };
    return user;
  }

  /** Change my display name. */
  updateMe(req: UpdateMeRequest): Promise<User> {
    return this.#call('PATCH /v1/me', { body: req });
  }

  /** Look up a user by username. */
  getUser(username: string): Promise<User> {
    return this.#call('GET /v1/users/:username', { params: { username } });
  }

  /** My devices (logged-in sessions). */
  devices(): Promise<{ devices: Device[] }> {
    return this.#call('GET /v1/devices', {});
  }

  /** Revoke one of my devices: its sessions end and its sockets close. */
  revokeDevice(id: string): Promise<Res<'DELETE /v1/devices/:id'>> {
    return this.#call('DELETE /v1/devices/:id', { params: { id } });
  }

  /** My conversations (groups I left included, with `left`), latest activity first. `limit`: default 100, max 500 (server side). */
  conversations(query: { limit?: number } = {}): Promise<{ conversations: Conversation[] }> {
    return this.#call('GET /v1/conversations', { query: { limit: query.limit } });
  }

  /** Get or create the 1:1 conversation with a user (idempotent). */
  direct(target: DirectTarget): Promise<Conversation> {
    return this.#call('POST /v1/conversations/direct', { body: target });
  }

  /** Create a group; `members` are usernames of the others (I become its admin). */
  createGroup(req: GroupRequest): Promise<Conversation> {
    return this.#call('POST /v1/conversations/groups', { body: req });
  }

  /** One conversation I am in (or a group I left, with `left`). */
  conversation(id: string): Promise<Conversation> {
    return this.#call('GET /v1/conversations/:id', { params: { id } });
  }

  /**
   * Delete a group I left, or a message request (it comes back with the sender's next
   * message), from my list, on all my devices (`still_member` while I am in it).
   */
  deleteConversation(id: string): Promise<Res<'DELETE /v1/conversations/:id'>> {
    return this.#call('DELETE /v1/conversations/:id', { params: { id } });
  }

  /** Accept a message request (`Conversation.request`): it becomes a normal chat. */
  acceptRequest(id: string): Promise<Conversation> {
    return this.#call('POST /v1/conversations/:id/accept', { params: { id } });
  }

  /** Rename a group. */
  rename(id: string, name: string): Promise<Conversation> {
    return this.#call('PATCH /v1/conversations/:id', { params: { id }, body: { name } });
  }

  /** Members of a conversation. */
  members(id: string): Promise<{ members: Member[] }> {
    return this.#call('GET /v1/conversations/:id/members', { params: { id } });
  }

  /** Add members to a group by username. */
  addMembers(id: string, usernames: string[]): Promise<{ members: Member[] }> {
    return this.#call('POST /v1/conversations/:id/members', { params: { id }, body: { usernames } });
  }

  /** Remove a member from a group (admins), or leave when `userId` is mine. */
  removeMember(id: string, userId: string): Promise<Res<'DELETE /v1/conversations/:id/members/:userId'>> {
    return this.#call('DELETE /v1/conversations/:id/members/:userId', { params: { id, userId } });
  }

  /** Leave a conversation (fetches `me()` first if my user id is not known yet). */
  async leave(id: string): Promise<Res<'DELETE /v1/conversations/:id/members/:userId'>> {
    const known = this.#me !== undefined && this.#me.token === this.#token ? this.#me.userId : undefined;
    const userId = known ?? (await this.me()).id;
    return this.removeMember(id, userId);
  }

  /** Make a member an admin (admins only). */
  promote(id: string, userId: string): Promise<{ members: Member[] }> {
    return this.#call('POST /v1/conversations/:id/admins/:userId', { params: { id, userId } });
  }

  /**
   * Full-text search over the messages I can see, best first; each hit has the ranges of the
   * words found (`highlights`, UTF-16 offsets into `message.text`). Next page: `cursor`.
   */
  search(query: SearchQuery): Promise<SearchPage> {
    return this.#call('GET /v1/search', {
      query: {
        q: query.q,
        conversation: query.conversation,
        sender: query.sender,
        before: query.before,
        after: query.after,
        limit: query.limit,
        cursor: query.cursor,
      },
    });
  }

  /**
   * The server's preview of the page at `url` (http(s), at most 2048 characters), or null
   * when it has none (not a page, unreachable, no title, or previews off). Asking first makes
   * a send with `preview: true` carry it.
   */
  async linkPreview(url: string): Promise<LinkPreview | null> {
    try {
      return await this.#call('GET /v1/link-preview', { query: { url } });
    } catch (err) {
      if (err instanceof ParleyError && err.code === 'not_found') return null;
      throw err;
    }
  }

  /** A page of history by seq. */
  history(id: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    return this.#call('GET /v1/conversations/:id/messages', {
      params: { id },
      query: { before: query.before, after: query.after, limit: query.limit },
    });
  }

  /** Act on a message over HTTP: same rules, idempotency and ack as the WebSocket `action`. */
  act(id: string, req: ActionRequest): Promise<Ack> {
    return this.#call('POST /v1/conversations/:id/actions', { params: { id }, body: req });
  }

  /** Forward message `seq` of conversation `id` to up to 10 others. */
  forward(id: string, req: ForwardRequest): Promise<ForwardResult> {
    return this.#call('POST /v1/conversations/:id/forward', { params: { id }, body: req });
  }

  /** Pinned messages of a conversation. */
  pins(id: string): Promise<{ messages: Message[] }> {
    return this.#call('GET /v1/conversations/:id/pins', { params: { id } });
  }

  /** Messages that mention me, newest first. */
  mentions(query: { before?: string; limit?: number } = {}): Promise<MessageListPage> {
    return this.#call('GET /v1/mentions', { query: { before: query.before, limit: query.limit } });
  }

  /** Messages I saved, most recently saved first. */
  saved(query: { before?: string; limit?: number } = {}): Promise<MessageListPage> {
    return this.#call('GET /v1/saved', { query: { before: query.before, limit: query.limit } });
  }

  /**
   * Upload a file (tus 1.0.0 at `/v1/uploads`, in pieces of `chunkSize`); a network error
   * resumes from the server's offset. Resolves once the server has processed it (sniffed,
   * photos stripped and thumbnailed); attach it with `send(..., { attachments: [{ uploadId }] })`.
   */
  upload(body: Blob | Uint8Array, options: UploadOptions): Promise<Attachment> {
    return tusUpload(this.#transport(), body, options);
  }

  /** A finished upload of mine (404 `not_found` before it is finished). */
  getUpload(id: string): Promise<Attachment> {
    return getUpload(this.#transport(), id);
  }

  /**
   * The bytes of an attachment (or its thumbnail) as a `Response` (2xx, or 304 with
   * `If-None-Match`); show them through `URL.createObjectURL(await res.blob())`.
   */
  file(id: string, options: FileOptions = {}): Promise<Response> {
    return fetchFile(this.#transport(), id, options);
  }

  /** Send a message over HTTP: same validation, idempotency and ack as the WebSocket `send`. */
  send(id: string, req: SendRequest): Promise<Ack> {
    return this.#call('POST /v1/conversations/:id/messages', { params: { id }, body: req });
  }

  /** Move my read cursor in a conversation to `seq` (never backwards). */
  read(id: string, seq: number): Promise<{ seq: number }> {
    return this.#call('POST /v1/conversations/:id/read', { params: { id }, body: { seq } });
  }

  /** A page of my change feed after `since`. */
  sync(query: SyncQuery = {}): Promise<SyncPage> {
    return this.#call('GET /v1/sync', { query: { since: query.since, limit: query.limit } });
  }
  /** Who has message `seq` delivered and read (the sender excluded). */
  receipts(id: string, seq: number): Promise<MessageReceipts> {
    return this.#call('GET /v1/conversations/:id/receipts', { params: { id }, query: { seq } });
  }

  /** My contacts with presence, pending requests both ways, and the users I blocked. */
  contacts(): Promise<ContactList> {
    return this.#call('GET /v1/contacts', {});
  }

  /** Ask a user to be my contact (accepted at once if they already asked me). */
  requestContact(target: DirectTarget): Promise<{ state: ContactState }> {
    return this.#call('POST /v1/contacts', { body: target });
  }

  acceptContact(userId: string): Promise<{ state: ContactState }> {
    return this.#call('POST /v1/contacts/:userId/accept', { params: { userId } });
  }

  declineContact(userId: string): Promise<{ state: ContactState }> {
    return this.#call('POST /v1/contacts/:userId/decline', { params: { userId } });
  }

  /** Remove a contact, or cancel my request. */
  removeContact(userId: string): Promise<{ state: ContactState }> {
    return this.#call('DELETE /v1/contacts/:userId', { params: { userId } });
  }

  /** Block a user: no 1:1 messages either way, no adding me to groups, no presence. */
  block(target: DirectTarget): Promise<{ ok: true }> {
    return this.#call('POST /v1/blocks', { body: target });
  }

  unblock(userId: string): Promise<{ ok: true }> {
    return this.#call('DELETE /v1/blocks/:userId', { params: { userId } });
  }

  /** The chat server to connect to (service discovery); `region` is a hint. */
  discovery(region?: string): Promise<Discovery> {
    return this.#call('GET /v1/discovery', { query: { region } });
  }

  /** Presence of up to 100 users; users I may not see are left out. */
  presence(userIds: readonly string[]): Promise<{ presence: Presence[] }> {
    return this.#call('GET /v1/presence', { query: { userIds: userIds.join(',') } });
  }

  /** My settings (whether push notifications show message text). */
  settings(): Promise<UserSettings> {
    return this.#call('GET /v1/me/settings', {});
  }

  /** Change some of my settings; the others stay. */
  updateSettings(req: UpdateSettingsRequest): Promise<UserSettings> {
    return this.#call('PATCH /v1/me/settings', { body: req });
  }

  /** My privacy settings: who sees my last seen and online state, who may message me or add me to groups. */
  getPrivacy(): Promise<PrivacySettings> {
    return this.#call('GET /v1/me/privacy', {});
  }

  /** Change some of my privacy settings; the others stay. Answers them all. */
  setPrivacy(patch: UpdatePrivacyRequest): Promise<PrivacySettings> {
    return this.#call('PATCH /v1/me/privacy', { body: patch });
  }

  /**
   * No push notifications from a conversation until `until` (null: until `unmute`); with
   * `mentions`, not even for messages that mention me.
   */
  mute(id: string, until: MuteRequest['until'], opts: { mentions?: boolean } = {}): Promise<Conversation> {
    const body: MuteRequest = opts.mentions === undefined ? { until } : { until, mentions: opts.mentions };
    return this.#call('PUT /v1/conversations/:id/mute', { params: { id }, body });
  }

  /** Push notifications from a conversation again. */
  unmute(id: string): Promise<Conversation> {
    return this.#call('DELETE /v1/conversations/:id/mute', { params: { id } });
  }

  /** The server's VAPID public key, for `pushManager.subscribe({ applicationServerKey })`. */
  vapidKey(): Promise<{ publicKey: string }> {
    return this.#call('GET /v1/push/vapid', {});
  }

  /** Register a push endpoint (Web Push subscription, FCM or APNs token) for this device. */
  registerPush(req: RegisterPushRequest): Promise<PushSubscriptionInfo> {
    return this.#call('POST /v1/push/subscriptions', { body: req });
  }

  /** The push subscriptions of all my devices. */
  pushSubscriptions(): Promise<{ subscriptions: PushSubscriptionInfo[] }> {
    return this.#call('GET /v1/push/subscriptions', {});
  }

  /** Remove a push subscription. */
  unregisterPush(id: string): Promise<{ ok: true }> {
    return this.#call('DELETE /v1/push/subscriptions/:id', { params: { id } });
  }

  #transport(): UploadTransport {
    return {
      baseUrl: this.#baseUrl,
      token: this.#token,
      fetch: this.#fetch ?? ((url, req) => globalThis.fetch(url, req)),
    };
  }

  async #call<R extends Route>(route: R, options: CallOptions<R>): Promise<Res<R>> {
    const space = route.indexOf(' ');
    const method = route.slice(0, space);
    const params = options.params as Record<string, string> | undefined;
    let path = route.slice(space + 1).replace(/:(\w+)/g, (_, name: string) => encodeSegment(params?.[name]));
    if (options.query !== undefined) {
      const search = new URLSearchParams();
      for (const [key, value] of Object.entries(options.query)) {
        if (value !== undefined) search.set(key, String(value));
      }
      const qs = search.toString();
      if (qs !== '') path += `?${qs}`;
    }

    const headers: Record<string, string> = { accept: 'application/json' };
    if (!PUBLIC_ROUTES.has(route)) {
      if (this.#token === undefined)
        throw new ParleyError('unauthorized', 'No session token: call setToken()');
      headers.authorization = `Bearer ${this.#token}`;
    }
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }

    // Called as a plain function: browsers throw "Illegal invocation" when fetch gets
    // another `this` than the global object.
    const fetchFn: FetchLike = this.#fetch ?? ((url, req) => globalThis.fetch(url, req));
    let res: Response;
    let text: string;
    try {
      res = await fetchFn(this.#baseUrl + path, init);
      text = await res.text();
    } catch (err) {
      throw new ParleyError('unavailable', `Network error: ${errorMessage(err)}`);
    }

    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
      if (res.ok) throw new ParleyError('internal', `Response to ${route} is not JSON`);
    }
    if (!res.ok) {
      const err = body as { code?: unknown; message?: unknown } | undefined;
      if (typeof err === 'object' && err !== null && isErrorCode(err.code)) {
        // A 429's Retry-After (seconds) travels with the error (`ParleyError.retryAfter`).
        const retryAfter = Number(res.headers.get('retry-after') ?? NaN);
        if (Number.isFinite(retryAfter) && typeof err.message === 'string') {
          throw new ParleyError(err.code, err.message, { retryAfter });
        }
        throw toParleyError(err.code, err.message);
      }
      throw new ParleyError(codeForStatus(res.status), `HTTP ${res.status} from ${route}`);
    }
    return body as Res<R>;
  }
}

/**
 * One path segment. Empty, `.` and `..` cannot be sent: URL parsers resolve dot segments
 * (even percent-encoded ones, WHATWG URL), so the request would reach another route.
 */
function encodeSegment(value: string | undefined): string {
  if (value === undefined || value === '' || value === '.' || value === '..') {
    throw new ParleyError('invalid_field', `Invalid path parameter ${JSON.stringify(value ?? '')}`);
  }
  return encodeURIComponent(value);
}
