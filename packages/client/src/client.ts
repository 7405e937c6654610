/** `ParleyClient`: the real-time connection (catch-up, live messages, outbox, reconnect). */
import type {
  Ack,
  AttachmentRef,
  ClientFrame,
  SendFrame,
  ContactState,
  Conversation,
  ErrorBody,
  ErrorCode,
  Message,
  MessageAction,
  Presence,
  ReadCursorFrame,
  ReadyFrame,
  ReceiptCursor,
  User,
} from '@parley/protocol';
import {
  AUTH_PROTOCOL_PREFIX,
  ERROR_CODES,
  ERRORS,
  MAX_ATTACHMENTS,
  MAX_CLIENT_ID_LENGTH,
  MAX_TEXT_CODE_POINTS,
  PROTOCOL,
  ParleyError,
  codePointLength,
  decodeServerFrame,
} from '@parley/protocol';
import type { BackoffOptions } from './backoff.js';
import { DEFAULT_BASE_DELAY_MS, backoffDelay } from './backoff.js';
import type { Handler } from './emitter.js';
import { Emitter } from './emitter.js';
import type { FetchLike } from './http.js';
import { ParleyHttp, toParleyError } from './http.js';
import type { OutboxEntry, OutboxStorage, PendingSend } from './outbox.js';
import { Outbox } from './outbox.js';

// React's "bivarianceHack": handler parameters checked bivariantly, so that both the DOM
// WebSocket and `ws` (whose event classes differ) fit `WebSocketLike`.
type EventHandler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The browser WebSocket API subset the client uses; the DOM `WebSocket` and `ws` both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  onopen: EventHandler<unknown> | null;
  onmessage: EventHandler<{ data: unknown }> | null;
  onclose: EventHandler<{ code: number; reason: string }> | null;
  onerror: EventHandler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers, `ws`'s `WebSocket` in Node. */
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/** Connection state, in the order a healthy connection goes through them. */
export type ConnectionState =
  /** Created; `connect()` not called yet. */
  | 'idle'
  /** First connection attempt in progress. */
  | 'connecting'
  /** `ready` received and `sync` sent; catching up. */
  | 'open'
  /** Caught up (`synced` received); messages arrive live. */
  | 'synced'
  /** Connection lost: waiting for the backoff delay or retrying. */
  | 'reconnecting'
  /** Stopped by `close()`, or by the server for a bad/revoked token (4001, 4003). */
  | 'closed';

/** Payload of the `error` event: a server error, or the reason the server closed for good. */
export type ClientErrorEvent = ErrorBody & { ref?: string };

/** Events of `ParleyClient`. */
export interface ClientEvents {
  /** The connection state changed. */
  state: ConnectionState;
  /** The server accepted the connection (sent before catch-up starts). */
  ready: ReadyFrame;
  /** A new message, from catch-up or live; each (conversationId, seq) is emitted once. */
  message: Message;
  /** The server stored one of my sends from the outbox. */
  ack: Ack;
  /**
   * Catch-up is complete: `cursor` is `client.cursor` now (a connection's first one sets it,
   * even behind the one it had); `pos` is the highest feed position caught up to.
   */
  synced: { pos: number; cursor: string };
  /** A member's read cursor moved (mine on another device, or someone's receipt). */
  read: ReadCursorFrame;
  /** A conversation I am in was created or changed; or I left a group (`left` is set then). */
  conversation: Conversation;
  /** A conversation is gone from my list (I deleted a group I had left, on some device). */
  conversation_removed: { conversationId: string };
  /** A server `error` frame not tied to a pending send, or a 4001/4003 close (then state is 'closed'). */
  error: ClientErrorEvent;
  /** The number of pending sends changed. */
  outbox: { pending: number };
  /** A contact or 1:1 partner went online or offline (`lastActiveAt`: their last seen). */
  presence: Presence;
  /** Members' delivered/read cursors moved (ticks: a message with seq <= readSeq is read by that member). */
  receipts: { conversationId: string; cursors: ReceiptCursor[] };
  /** Who is typing in a conversation now; entries expire after the server's TTL (6 s) or when their message arrives. */
  typing: { conversationId: string; userIds: string[] };
  /** My relation to a user changed (a request arrived, was accepted, removed ...). */
  contact: { user: User; state: ContactState };
  /** A user whose name I may show (a member of one of my conversations, a contact, or I) changed it. */
  user: User;
}

/** Options of `ParleyClient`. */
export interface ParleyClientOptions {
  /** HTTP(S) base URL of the server, e.g. `http://127.0.0.1:8080`. Required. */
  url: string;
  /** Session token. Default: none; set it with `setToken()` before `connect()`. */
  token?: string;
  /** WebSocket constructor. Default: `globalThis.WebSocket` (in Node 20, pass `ws`'s `WebSocket`). */
  WebSocket?: WebSocketConstructor;
  /** `fetch` for `client.http`. Default: `globalThis.fetch`. */
  fetch?: FetchLike;
  /**
   * Feed cursor to resume catch-up from (a `client.cursor` kept from before; a feed position
   * kept by an older version works too). Default: `null` (from now: no backlog).
   */
  since?: string | number | null;
  /** Reconnect backoff. Default: `{ baseDelayMs: 250, maxDelayMs: 10_000 }`. */
  reconnect?: BackoffOptions;
  /** Ping interval, in ms; silence for 2.5 times this drops the socket. Default: the server's `ready.heartbeatMs`. */
  heartbeatMs?: number;
  /** How long a connection attempt may take until `ready`, in ms. Default: 15_000. */
  connectTimeoutMs?: number;
  /** Source of randomness in [0, 1) for backoff jitter. Default: `Math.random`. */
  random?: () => number;
  /** Persistence of pending sends across reloads. Default: none (memory only). */
  outboxStorage?: OutboxStorage;
  /**
   * WebSocket URL, computed before every connection attempt. Default: ask the server's
   * discovery (`GET /v1/discovery`) for the best chat server, falling back to `url` with
   * ws(s): and path `/v1/ws` when discovery is not there.
   */
  wsUrl?: () => string | Promise<string>;
  /** Region hint for discovery. Default: none. */
  region?: string;
  /** Report delivered receipts for every message received (batched per conversation). Default: true. */
  autoDelivered?: boolean;
}

/** Minimum interval between two typing frames for one conversation, in ms. */
export const TYPING_THROTTLE_MS = 2000;
/** Minimum interval between two `active` frames that only say the person is still using the app, in ms. */
export const ACTIVE_THROTTLE_MS = 15_000;
/** Delivered receipts are gathered for this long before one frame per conversation goes out, in ms. */
const DELIVERED_BATCH_MS = 50;

/** Options of `ParleyClient.send`. */
export interface SendOptions {
  /** Idempotency key. Default: a random UUID. */
  clientId?: string;
  /** Seq of the message this one answers (same conversation). */
  replyTo?: number;
  /** Finished uploads of mine (1 to 10); `text` is then a caption and may be empty. */
  attachments?: AttachmentRef[];
  /** Attach the server's preview of the text's first URL (asked for with `linkPreview`). */
  preview?: boolean;
}

/** The frame that sends an outbox entry. */
function frameOf(p: PendingSend): ClientFrame {
  const { conversationId, clientId, text } = p;
  if (p.action) return { type: 'action', conversationId, clientId, action: p.action };
  const frame: SendFrame = {
    type: 'send',
    conversationId,
    clientId,
    text,
  };
  if (p.replyTo !== undefined) frame.replyTo = p.replyTo;
  if (p.attachments !== undefined) frame.attachments = p.attachments;
  if (p.preview) frame.preview = true;
  return frame;
}

/** Options of `ParleyClient.close`. */
export interface CloseOptions {
  /** Reject and drop pending sends (with `unavailable`) instead of keeping them. Default: false. */
  rejectPending?: boolean;
}

/** Default `connectTimeoutMs`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
/** Silence, in heartbeat intervals, after which a socket counts as dead. */
export const HEARTBEAT_TIMEOUT_FACTOR = 2.5;

const OPEN = 1; // WebSocket.OPEN
const CLOSE_GOING_AWAY = 1001;
/** Close code when the client drops a socket to reconnect (not a goodbye: presence keeps it online). */
const CLOSE_RECONNECTING = 4000;
const CLOSE_UNAUTHORIZED = ERRORS.unauthorized.ws;
const CLOSE_DEVICE_REVOKED = ERRORS.device_revoked.ws;

function noop(): void {}

/** `url` with ws(s): and path `/v1/ws` (a path prefix such as `/parley` is kept). */
export function defaultWsUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/v1/ws`;
  u.search = '';
  u.hash = '';
  return u.toString();
}

/** The registry code whose WebSocket behaviour is closing with `closeCode`. */
function codeForClose(closeCode: number): ErrorCode | undefined {
  return ERROR_CODES.find((code) => ERRORS[code].ws === closeCode);
}

/**
 * A random UUID v4. `crypto.randomUUID` exists only in secure contexts (https or
 * localhost); a self-hosted server on a LAN address is plain http, so fall back to
 * `getRandomValues`, which works everywhere.
 */
function randomClientId(): string {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === 'function') return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The error the server would answer, for sends that cannot succeed (checked before queueing). */
function invalidSend(clientId: string, text: string, attachments?: AttachmentRef[]): ParleyError | undefined {
  if (clientId.length === 0 || clientId.length > MAX_CLIENT_ID_LENGTH) {
    return new ParleyError(
      'invalid_field',
      `clientId must be a string of 1-${MAX_CLIENT_ID_LENGTH} characters`,
    );
  }
  if (attachments !== undefined && (attachments.length === 0 || attachments.length > MAX_ATTACHMENTS)) {
    return new ParleyError('invalid_field', `attachments must hold 1-${MAX_ATTACHMENTS} uploads`);
  }
  if (text.length === 0 && attachments === undefined) return new ParleyError('text_empty');
  // UTF-16 length bounds the code point count from above: count only when it may matter.
  if (text.length > MAX_TEXT_CODE_POINTS && codePointLength(text) > MAX_TEXT_CODE_POINTS) {
    return new ParleyError('text_too_long');
  }
  return undefined;
}

/**
 * The cursor after a message at `pos` from a server that sends no cursor: then a cursor is
 * one position, the highest seen.
 */
function laterOf(cursor: string | null, pos: number): string {
  return cursor === null || !/^[0-9]+$/.test(cursor) || pos > Number(cursor) ? String(pos) : cursor;
}

/**
 * `since` as the `sync` frame carries it: a cursor that is one position goes as that number,
 * which every server reads as that cursor and servers without cursors understand too.
 */
function wireSince(cursor: string | null): string | number | null {
  if (cursor === null || !/^[0-9]{1,15}$/.test(cursor)) return cursor;
  return Number(cursor);
}

/**
 * The real-time connection to a Parley server. Create it, subscribe with `on`, then
 * `connect()`. It resumes from `cursor` after every reconnect, emits each message once, and
 * keeps sends in an outbox until the server acks them.
 */
export class ParleyClient {
  /** HTTP API client sharing this client's URL, token and fetch. */
  readonly http: ParleyHttp;

  #url: string;
  #WebSocket: WebSocketConstructor;
  #reconnect: BackoffOptions;
  #heartbeatOverride: number | undefined;
  #connectTimeoutMs: number;
  #random: () => number;
  #wsUrl: () => string | Promise<string>;

  #events = new Emitter<ClientEvents>();
  #state: ConnectionState = 'idle';
  #cursor: string | null;
  /** Highest seq emitted per conversation: messages at or below it are duplicates. */
  #lastSeq = new Map<string, number>();
  #outbox: Outbox;
  /** Reads marked while offline: the highest seq per conversation, sent on the next ready. */
  #pendingReads = new Map<string, number>();

  #ws: WebSocketLike | null = null;
  /** `ready` received on the current socket: frames may be sent. */
  #ready = false;
  /** The current socket's first `synced` has arrived (later ones only follow gap refills). */
  #syncedOnce = false;
  /** The highest pos received on the current socket, or null (for servers that send no cursor). */
  #socketPos: number | null = null;
  #attempt = 0;
  /** Bumped by `close()` and by each attempt, so stale async continuations stop. */
  #run = 0;
  /** Bumped when the client stops (close, or closed for good), unlike `#run`. */
  #session = 0;
  #checkingToken = false;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #deadTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeatMs = 0;
  #lastReceivedAt = 0;
  #autoDelivered: boolean;
  /** Highest seq to report as delivered, per conversation, not yet sent. */
  #delivered = new Map<string, number>();
  #deliveredTimer: ReturnType<typeof setTimeout> | undefined;
  /** When I last sent a typing frame, per conversation. */
  #typingSentAt = new Map<string, number>();
  /** Whether the app is in the foreground, as last reported (null: never reported). */
  #foreground: boolean | null = null;
  /** When the last `active` frame went out (performance.now()). */
  #activeSentAt = -Infinity;
  /** Who is typing: conversation → user → expiry timer. */
  #typing = new Map<string, Map<string, ReturnType<typeof setTimeout>>>();

  constructor(options: ParleyClientOptions) {
    this.#url = options.url;
    this.http = new ParleyHttp({ baseUrl: options.url, token: options.token, fetch: options.fetch });
    const WebSocketCtor = options.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined);
    if (WebSocketCtor === undefined) {
      throw new TypeError("No WebSocket implementation: pass options.WebSocket (in Node, `ws`'s WebSocket)");
    }
    this.#WebSocket = WebSocketCtor;
    this.#cursor = options.since === undefined || options.since === null ? null : String(options.since);
    this.#reconnect = options.reconnect ?? {};
    this.#heartbeatOverride = options.heartbeatMs;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#random = options.random ?? Math.random;
    this.#wsUrl = options.wsUrl ?? (() => this.#discover(options.region));
    this.#outbox = new Outbox(options.outboxStorage, (pending) => this.#events.emit('outbox', { pending }));
    this.#autoDelivered = options.autoDelivered ?? true;
  }

  async #discover(region: string | undefined): Promise<string> {
    try {
      return (await this.http.discovery(region)).url;
    } catch (err) {
      // A server without discovery (404) is its own chat server; other failures are retried.
      if (err instanceof ParleyError && (err.code === 'not_found' || err.code === 'invalid_field')) {
        return defaultWsUrl(this.#url);
      }
      throw err;
    }
  }

  /** Current connection state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /**
   * Where this device is in its feed (from messages and `synced`), an opaque string; keep it
   * and pass it as `since` to resume later. Null before anything was received.
   */
  get cursor(): string | null {
    return this.#cursor;
  }

  /** Number of sends waiting for an ack. */
  get pending(): number {
    return this.#outbox.size;
  }

  /** Sends waiting for an ack, oldest first (e.g. to show them as "sending" in a UI). */
  pendingSends(): PendingSend[] {
    return Array.from(this.#outbox.entries(), (entry) => entry.send);
  }

  /** Use another session token from the next connection (and HTTP request) on. */
  setToken(token: string | undefined): void {
    this.http.setToken(token);
  }

  /** Subscribe to an event; returns a function that unsubscribes. */
  on<K extends keyof ClientEvents>(event: K, handler: Handler<ClientEvents[K]>): () => void {
    return this.#events.on(event, handler);
  }

  /** Unsubscribe a handler added with `on`. */
  off<K extends keyof ClientEvents>(event: K, handler: Handler<ClientEvents[K]>): void {
    this.#events.off(event, handler);
  }

  /** Subscribe to the next occurrence of an event only; returns a function that unsubscribes. */
  once<K extends keyof ClientEvents>(event: K, handler: Handler<ClientEvents[K]>): () => void {
    return this.#events.once(event, handler);
  }

  /**
   * Start connecting. Progress is reported by the `state`, `ready` and `synced` events;
   * failures are retried with backoff. While 'reconnecting', it skips the rest of the backoff
   * delay (e.g. on the browser's `online` event); in other states it does nothing.
   * @throws ParleyError `unauthorized` when no token is set.
   */
  connect(): void {
    if (this.#state === 'reconnecting' && this.#reconnectTimer !== undefined) {
      clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
      void this.#open();
      return;
    }
    if (this.#state !== 'idle' && this.#state !== 'closed') return;
    if (this.http.token === undefined) {
      throw new ParleyError('unauthorized', 'No session token: pass `token` or call setToken() first');
    }
    this.#attempt = 0;
    this.#setState('connecting');
    void this.#open();
  }

  /**
   * Stop: no more reconnects, timers or socket. Pending sends stay in the outbox and go out
   * on the next `connect()`, unless `rejectPending` rejects them with `unavailable`.
   */
  close(options: CloseOptions = {}): void {
    this.#stop();
    this.#outbox.clearRetryTimers();
    if (options.rejectPending === true) {
      this.#outbox.rejectAll(new ParleyError('unavailable', 'Client closed before the server acknowledged'));
    }
    this.#setState('closed');
  }

  /**
   * Send a message. It waits in the outbox (in order) until the server acks it and is resent
   * with the same clientId after reconnects and retryable errors, so it is stored once.
   * @returns the ack; rejects with `ParleyError` on a non-retryable error.
   */
  send(conversationId: string, text: string, options: SendOptions = {}): Promise<Ack> {
    const clientId = options.clientId ?? randomClientId();
    const invalid = invalidSend(clientId, text, options.attachments);
    if (invalid !== undefined) return Promise.reject(invalid);
    const existing = this.#outbox.get(clientId);
    if (existing !== undefined) {
      if (
        existing.send.conversationId !== conversationId ||
        existing.send.text !== text ||
        JSON.stringify(existing.send.attachments) !== JSON.stringify(options.attachments)
      ) {
        return Promise.reject(new ParleyError('client_id_conflict'));
      }
      return this.#outbox.wait(existing);
    }
    const pending: PendingSend = { clientId, conversationId, text, createdAt: Date.now() };
    if (options.replyTo !== undefined) pending.replyTo = options.replyTo;
    if (options.attachments !== undefined) pending.attachments = options.attachments.map((a) => ({ ...a }));
    if (options.preview) pending.preview = true;
    const acked = this.#outbox.add(pending);
    if (this.#ready) this.#write(frameOf(pending));
    return acked;
  }

  /**
   * Act on a message (the `action` frame): queued in the outbox with sends, in order, resent
   * with the same clientId until acked, so it is stored once. The event comes back in the feed.
   */
  act(conversationId: string, action: MessageAction, options: SendOptions = {}): Promise<Ack> {
    const clientId = options.clientId ?? randomClientId();
    const existing = this.#outbox.get(clientId);
    if (existing !== undefined) return this.#outbox.wait(existing);
    const pending: PendingSend = { clientId, conversationId, text: '', createdAt: Date.now(), action };
    const acked = this.#outbox.add(pending);
    if (this.#ready) this.#write(frameOf(pending));
    return acked;
  }

  /** Replace the text of my message `seq`. */
  edit(conversationId: string, seq: number, text: string): Promise<Ack> {
    return this.act(conversationId, { kind: 'edit', target: seq, text });
  }
  /** Hide message `seq` on all my devices (delete for me). */
  deleteForMe(conversationId: string, seq: number): Promise<Ack> {
    return this.act(conversationId, { kind: 'hide', target: seq });
  }
  /** Delete message `seq` for everyone (my message, or any as a group admin). */
  deleteForEveryone(conversationId: string, seq: number): Promise<Ack> {
    return this.act(conversationId, { kind: 'delete', target: seq });
  }
  react(conversationId: string, seq: number, emoji: string): Promise<Ack> {
    return this.act(conversationId, { kind: 'react', target: seq, emoji });
  }
  unreact(conversationId: string, seq: number, emoji: string): Promise<Ack> {
    return this.act(conversationId, { kind: 'unreact', target: seq, emoji });
  }
  pin(conversationId: string, seq: number): Promise<Ack> {
    return this.act(conversationId, { kind: 'pin', target: seq });
  }
  unpin(conversationId: string, seq: number): Promise<Ack> {
    return this.act(conversationId, { kind: 'unpin', target: seq });
  }
  save(conversationId: string, seq: number): Promise<Ack> {
    return this.act(conversationId, { kind: 'save', target: seq });
  }
  unsave(conversationId: string, seq: number): Promise<Ack> {
    return this.act(conversationId, { kind: 'unsave', target: seq });
  }

  /** Move my read cursor in a conversation to `seq`. Offline, the highest seq is sent on reconnect. */
  markRead(conversationId: string, seq: number): void {
    if (this.#ready) {
      this.#write({ type: 'read', conversationId, seq });
      return;
    }
    const queued = this.#pendingReads.get(conversationId);
    if (queued === undefined || seq > queued) this.#pendingReads.set(conversationId, seq);
  }

  /**
   * Tell the conversation's members I am typing. Call it on every keystroke: frames are
   * throttled to one per TYPING_THROTTLE_MS per conversation, and dropped while offline.
   */
  typing(conversationId: string): void {
    const now = Date.now();
    if (!this.#ready || now - (this.#typingSentAt.get(conversationId) ?? 0) < TYPING_THROTTLE_MS) return;
    this.#typingSentAt.set(conversationId, now);
    this.#write({ type: 'typing', conversationId });
  }

  /**
   * Say whether the app is in the foreground (shown to the person) or in the background;
   * call it when that changes. A device used in the foreground gets no push notifications.
   * Repeated on every reconnect.
   */
  setForeground(foreground: boolean): void {
    if (foreground === this.#foreground) return;
    this.#foreground = foreground;
    this.#sendActive();
  }

  /**
   * The person is using the app (a key, a click, a scroll): keeps this device out of push
   * notifications. Call it on every such event; frames are throttled to one per
   * ACTIVE_THROTTLE_MS, and nothing is sent while the app is in the background.
   */
  activity(): void {
    if (this.#foreground === false || performance.now() - this.#activeSentAt < ACTIVE_THROTTLE_MS) return;
    this.#foreground = true;
    this.#sendActive();
  }

  #sendActive(): void {
    if (!this.#ready || this.#foreground === null) return;
    this.#activeSentAt = performance.now();
    this.#write({ type: 'active', foreground: this.#foreground });
  }

  /** Users typing in a conversation now. */
  typingIn(conversationId: string): string[] {
    return [...(this.#typing.get(conversationId)?.keys() ?? [])];
  }

  #setTyping(conversationId: string, userId: string, ttlMs: number | null): void {
    let users = this.#typing.get(conversationId);
    const had = users?.get(userId);
    if (had !== undefined) clearTimeout(had);
    else if (ttlMs === null) return;
    if (ttlMs === null) users?.delete(userId);
    else {
      if (!users) this.#typing.set(conversationId, (users = new Map()));
      users.set(
        userId,
        setTimeout(() => this.#setTyping(conversationId, userId, null), ttlMs),
      );
    }
    if (users?.size === 0) this.#typing.delete(conversationId);
    this.#events.emit('typing', { conversationId, userIds: this.typingIn(conversationId) });
  }

  #queueDelivered(conversationId: string, seq: number): void {
    const had = this.#delivered.get(conversationId);
    if (had === undefined || seq > had) this.#delivered.set(conversationId, seq);
    this.#deliveredTimer ??= setTimeout(() => {
      this.#deliveredTimer = undefined;
      if (!this.#ready) return;
      for (const [c, n] of this.#delivered) this.#write({ type: 'delivered', conversationId: c, seq: n });
      this.#delivered.clear();
    }, DELIVERED_BATCH_MS);
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#events.emit('state', state);
  }

  async #open(): Promise<void> {
    const run = ++this.#run;
    let url: string;
    try {
      await this.#outbox.load();
      url = await this.#wsUrl();
    } catch {
      // Discovery failed (a later cluster resolver may throw): retry like a failed connect.
      if (run === this.#run) this.#scheduleReconnect(false);
      return;
    }
    if (run !== this.#run) return;
    const token = this.http.token;
    if (token === undefined) {
      this.#closeForGood('unauthorized', 'No session token');
      return;
    }

    let ws: WebSocketLike;
    try {
      // The token rides in a subprotocol entry: browsers cannot set headers on the upgrade,
      // and a token in the URL would end up in proxy logs.
      ws = new this.#WebSocket(url, [PROTOCOL, AUTH_PROTOCOL_PREFIX + token]);
    } catch {
      this.#scheduleReconnect(false);
      return;
    }
    this.#ws = ws;
    this.#ready = false;
    ws.onopen = noop;
    ws.onerror = noop; // a close event always follows
    ws.onmessage = (event) => {
      if (this.#ws === ws) this.#receive(event.data);
    };
    ws.onclose = (event) => {
      if (this.#ws === ws) this.#onClose(event.code, event.reason);
    };
    this.#connectTimer = setTimeout(() => {
      if (this.#ws === ws && !this.#ready) this.#lost();
    }, this.#connectTimeoutMs);
  }

  /** Forget the current socket: stop its timers, detach handlers, close it if still open. */
  #dropSocket(code = CLOSE_RECONNECTING): void {
    clearTimeout(this.#connectTimer);
    clearInterval(this.#pingTimer);
    clearTimeout(this.#deadTimer);
    this.#connectTimer = this.#pingTimer = this.#deadTimer = undefined;
    const ws = this.#ws;
    this.#ws = null;
    this.#ready = false;
    if (ws === null) return;
    // No-ops rather than null: `ws` emits 'error' when closing a connecting socket, and an
    // EventEmitter 'error' without a listener throws.
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = noop;
    try {
      if (ws.readyState <= OPEN) ws.close(code);
    } catch {
      // Already closing; nothing to do.
    }
  }

  /** The socket is dead or failed: drop it and reconnect with backoff. */
  #lost(): void {
    const hadReady = this.#ready;
    this.#dropSocket();
    this.#scheduleReconnect(false);
    if (!hadReady) this.#checkToken();
  }

  #onClose(code: number, reason: string): void {
    const hadReady = this.#ready;
    this.#dropSocket();
    if (code === CLOSE_UNAUTHORIZED || code === CLOSE_DEVICE_REVOKED) {
      const errorCode = codeForClose(code) ?? 'unauthorized';
      this.#closeForGood(errorCode, reason === errorCode ? '' : reason);
      return;
    }
    // 1001: this server is going away (shutdown, or "go elsewhere" in a cluster): come back
    // at once. Only after a `ready`, so a server that refuses with 1001 cannot cause a tight loop.
    this.#scheduleReconnect(code === CLOSE_GOING_AWAY && hadReady);
    if (!hadReady) this.#checkToken();
  }

  /**
   * A connection that failed before `ready` may be a refused token: a server that answers
   * the upgrade with HTTP 401 instead of closing with 4001/4003 looks like any network
   * failure (close 1006) to a browser, which would then retry forever. Ask the HTTP API.
   */
  #checkToken(): void {
    if (this.#checkingToken) return;
    this.#checkingToken = true;
    const session = this.#session;
    this.http.me().then(
      () => {
        this.#checkingToken = false;
      },
      (err: unknown) => {
        this.#checkingToken = false;
        if (!(err instanceof ParleyError) || session !== this.#session || this.#state === 'closed') return;
        if (err.code === 'unauthorized' || err.code === 'device_revoked')
          this.#closeForGood(err.code, err.message);
      },
    );
  }

  /** Stop reconnecting and drop the socket; stale async continuations see a new run/session. */
  #stop(): void {
    this.#run++;
    this.#session++;
    clearTimeout(this.#deliveredTimer);
    this.#deliveredTimer = undefined;
    for (const users of this.#typing.values()) for (const t of users.values()) clearTimeout(t);
    this.#typing.clear();
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    // A goodbye (close 1000): the server marks the user offline at once if this was the last device.
    this.#dropSocket(1000);
  }

  #closeForGood(code: ErrorCode, reason: string): void {
    this.#stop();
    this.#setState('closed');
    this.#events.emit('error', { code, message: reason || ERRORS[code].message, retryable: false });
  }

  #scheduleReconnect(immediately: boolean): void {
    clearTimeout(this.#reconnectTimer);
    let delay: number;
    if (immediately) {
      // Told to move (or 1001): soon, without the backoff, but not all clients of the server
      // at the same instant, so discovery and the other servers see them spread a little.
      this.#attempt = 0;
      const base = Math.min(DEFAULT_BASE_DELAY_MS, this.#reconnect.baseDelayMs ?? DEFAULT_BASE_DELAY_MS);
      delay = backoffDelay(0, { baseDelayMs: base }, this.#random);
    } else delay = backoffDelay(this.#attempt++, this.#reconnect, this.#random);
    this.#setState('reconnecting');
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.#open();
    }, delay);
  }

  #write(frame: ClientFrame): void {
    const ws = this.#ws;
    if (ws === null || ws.readyState !== OPEN) return; // resent on the next connection
    ws.send(JSON.stringify(frame));
  }

  #sendEntry(entry: OutboxEntry): void {
    clearTimeout(entry.retryTimer);
    entry.retryTimer = undefined;
    this.#write(frameOf(entry.send));
  }

  #startHeartbeat(ms: number): void {
    this.#heartbeatMs = ms;
    if (!(ms > 0)) return;
    this.#pingTimer = setInterval(() => this.#write({ type: 'ping' }), ms);
    this.#armDeadTimer(ms * HEARTBEAT_TIMEOUT_FACTOR);
  }

  // One timer per socket, re-armed only when it fires: receiving a frame just records the
  // time, so the per-message path creates no timers.
  #armDeadTimer(ms: number): void {
    this.#deadTimer = setTimeout(() => {
      const timeout = this.#heartbeatMs * HEARTBEAT_TIMEOUT_FACTOR;
      const silent = performance.now() - this.#lastReceivedAt;
      if (silent >= timeout) this.#lost();
      else this.#armDeadTimer(timeout - silent);
    }, ms);
  }

  #receive(data: unknown): void {
    this.#lastReceivedAt = performance.now();
    if (typeof data !== 'string') return; // text frames only
    let frame;
    try {
      frame = decodeServerFrame(data);
    } catch {
      return;
    }
    if (typeof frame !== 'object' || frame === null) return;
    switch (frame.type) {
      case 'ready': {
        if (this.#ready) return;
        clearTimeout(this.#connectTimer);
        this.#connectTimer = undefined;
        this.#ready = true;
        this.#attempt = 0;
        this.#startHeartbeat(this.#heartbeatOverride ?? frame.heartbeatMs);
        // Sync first, then the outbox in its original order, before any handler runs: a
        // send() from a 'ready' handler then goes out once, after the older ones.
        this.#syncedOnce = false;
        this.#socketPos = null;
        this.#write({ type: 'sync', since: wireSince(this.#cursor) });
        for (const entry of this.#outbox.entries()) this.#sendEntry(entry);
        for (const [conversationId, seq] of this.#pendingReads) {
          this.#write({ type: 'read', conversationId, seq });
        }
        this.#pendingReads.clear();
        for (const [conversationId, seq] of this.#delivered)
          this.#write({ type: 'delivered', conversationId, seq });
        this.#delivered.clear();
        this.#sendActive();
        this.#setState('open');
        this.#events.emit('ready', frame);
        return;
      }
      case 'message': {
        const m = frame.message;
        if (typeof frame.cursor === 'string') this.#cursor = frame.cursor;
        else this.#cursor = laterOf(this.#cursor, m.pos);
        if (this.#socketPos === null || m.pos > this.#socketPos) this.#socketPos = m.pos;
        const last = this.#lastSeq.get(m.conversationId);
        if (last !== undefined && m.seq <= last) return;
        this.#lastSeq.set(m.conversationId, m.seq);
        this.#events.emit('message', m);
        if (this.#typing.get(m.conversationId)?.has(m.senderId))
          this.#setTyping(m.conversationId, m.senderId, null);
        if (this.#autoDelivered) this.#queueDelivered(m.conversationId, m.seq);
        return;
      }
      case 'synced': {
        // The first synced of a connection sets the cursor even when behind ours: a cursor past
        // the server's head (its data restored from an older backup) would skip new messages.
        // The server's cursor is where this connection is; an older server sends positions only.
        if (typeof frame.cursor === 'string') {
          this.#cursor = frame.cursor;
        } else if (!this.#syncedOnce) {
          this.#cursor = String(Math.max(frame.pos, this.#socketPos ?? frame.pos));
        } else {
          this.#cursor = laterOf(this.#cursor, frame.pos);
        }
        this.#syncedOnce = true;
        if (this.#state === 'open') this.#setState('synced');
        this.#events.emit('synced', { pos: frame.pos, cursor: this.#cursor });
        return;
      }
      case 'ack': {
        const { type: _type, ...ack } = frame;
        if (this.#outbox.resolve(ack)) this.#events.emit('ack', ack);
        return;
      }
      case 'error': {
        const { type: _type, ...error } = frame;
        const entry = error.ref === undefined ? undefined : this.#outbox.get(error.ref);
        if (entry === undefined) {
          this.#events.emit('error', error);
        } else if (error.retryable) {
          clearTimeout(entry.retryTimer);
          const delay = backoffDelay(entry.retries++, this.#reconnect, this.#random);
          entry.retryTimer = setTimeout(() => {
            entry.retryTimer = undefined;
            if (this.#ready && this.#outbox.get(entry.send.clientId) === entry) this.#sendEntry(entry);
          }, delay);
        } else {
          this.#outbox.reject(entry.send.clientId, toParleyError(error.code, error.message));
        }
        return;
      }
      case 'read':
        this.#events.emit('read', frame);
        return;
      case 'conversation':
        this.#events.emit('conversation', frame.conversation);
        return;
      case 'conversation_removed':
        this.#events.emit('conversation_removed', { conversationId: frame.conversationId });
        return;
      case 'pong':
        return;
      case 'move':
        // The server is draining: reconnect at once (discovery picks another server).
        this.#dropSocket();
        this.#scheduleReconnect(true);
        return;
      case 'presence': {
        const { type: _type, ...presence } = frame;
        this.#events.emit('presence', presence);
        return;
      }
      case 'receipts':
        this.#events.emit('receipts', { conversationId: frame.conversationId, cursors: frame.cursors });
        return;
      case 'typing':
        this.#setTyping(frame.conversationId, frame.userId, frame.ttlMs);
        return;
      case 'contact':
        this.#events.emit('contact', { user: frame.user, state: frame.state });
        return;
      case 'user':
        this.#events.emit('user', frame.user);
        return;
      default: {
        // Compile time: every frame type is handled. Run time: a newer server's frame is ignored.
        const _unknown: never = frame;
        return;
      }
    }
  }
}
