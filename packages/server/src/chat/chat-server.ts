import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import { AUTH_PROTOCOL_PREFIX, ERRORS, PROTOCOL, ParleyError, decodeClientFrame } from '@parley/protocol';
import type {
  ClientFrame,
  ErrorCode,
  MessageFrame,
  SyncedFrame,
  TypingIndicatorFrame,
} from '@parley/protocol';
import type { AuthContext, AuthService } from '../auth/auth-service.js';
import type { Bus, BusEvent } from '../bus/bus.js';
import type { ServerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { FEED_MOST_READ_ROWS } from '../messages/message-service.js';
import type { MessageService } from '../messages/message-service.js';
import type { Metrics } from '../metrics.js';
import type { PresenceTracker } from '../presence/presence.js';
import type { ReceiptService } from '../receipts/receipt-service.js';
import type { FeedPage, FeedRead, Store } from '../store/store.js';
import { Connection, uncorkAtTurnEnd } from './connection.js';
import { TurnBatch } from '../turn-batch.js';

/** Catch-up waits for a socket's send buffer to fall below this before writing the next frame. */
const CATCHUP_HIGH_WATER = 1024 * 1024;
/** Rows of the first store read of a catch-up (later reads are sized by the page byte budget). */
const CATCHUP_FIRST_READ_ROWS = 32;
/** Conversations whose read cursors one socket may have waiting when it sends over the frame rate. */
const MAX_DEFERRED_READS = 64;
/** Deferred read cursors are stored this long after the first of them, ms. */
const DEFERRED_READ_MS = 1000;
/** How often device `lastSeenAt` is written for connected devices (one batched write). */
const TOUCH_INTERVAL_MS = 60_000;

/** Token from `Authorization: Bearer …` or from the `parley.auth.<token>` subprotocol; never from the URL. */
export function tokenFromUpgrade(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const protocols = req.headers['sec-websocket-protocol'];
  if (typeof protocols === 'string') {
    for (const p of protocols.split(',')) {
      const t = p.trim();
      if (t.startsWith(AUTH_PROTOCOL_PREFIX)) return t.slice(AUTH_PROTOCOL_PREFIX.length);
    }
  }
  return null;
}

/** `https://a.example, http://b.example:8080` as a set of origins (scheme, host, port). */
export function parseOrigins(list: string): Set<string> {
  const out = new Set<string>();
  for (const raw of list.split(',')) {
    const o = raw.trim();
    if (o === '') continue;
    try {
      out.add(new URL(o).origin);
    } catch {
      throw new Error(`--allowed-origins: not an origin: ${o}`);
    }
  }
  return out;
}

/**
 * Whether a browser page from `origin` may open a WebSocket here: the same origin as the
 * request's Host, or one of `allowed`. No Origin header (a non-browser client) is allowed.
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: Set<string>,
): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // e.g. `null` from a sandboxed frame or a file: page
  }
  if (allowed.has(url.origin)) return true;
  return host !== undefined && url.host === host.toLowerCase();
}

function rejectUpgrade(socket: Duplex, code: ErrorCode): void {
  const spec = ERRORS[code];
  const body = JSON.stringify({ code, message: spec.message, retryable: spec.retryable });
  socket.end(
    `HTTP/1.1 ${spec.status} ${STATUS_CODES[spec.status] ?? ''}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * The chat service: authenticates WebSocket upgrades, holds each device's connection, runs
 * catch-up then live delivery, and feeds sends to the message service.
 */
export class ChatServer {
  private readonly wss: WebSocketServer;
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly byDevice = new Map<string, Set<Connection>>();
  private nextId = 1;
  private accepting = true;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsubscribe: () => void;
  /** Feed heads for `ready`, read once per turn for every connection the turn opened. */
  private readonly heads: TurnBatch<string, number>;
  /** Catch-up pages of every connection syncing at the same time, in one store call. */
  private readonly feeds: TurnBatch<FeedRead, FeedPage>;
  private readonly allowedOrigins: Set<string>;

  constructor(
    private readonly config: ServerConfig,
    private readonly auth: AuthService,
    private readonly messages: MessageService,
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly presence: PresenceTracker,
    private readonly receipts: ReceiptService,
  ) {
    this.allowedOrigins = parseOrigins(config.allowedOrigins);
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: config.maxFrameBytes,
      handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
    });
    this.unsubscribe = bus.subscribe((e) => this.onBusEvent(e));
    this.heads = new TurnBatch((userIds) => store.feedHeads(userIds));
    this.feeds = new TurnBatch((reads) => store.readFeeds(reads));
    const sweepEvery = Math.max(50, Math.min(config.heartbeatMs, config.heartbeatTimeoutMs / 3));
    this.timers.push(setInterval(() => this.sweep(), sweepEvery).unref());
    this.timers.push(setInterval(() => void this.touchDevices(), TOUCH_INTERVAL_MS).unref());
  }

  get connectionCount(): number {
    let n = 0;
    for (const set of this.byDevice.values()) n += set.size;
    return n;
  }

  /** Handle an HTTP upgrade on /v1/ws: authenticate before upgrading. */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v1/ws') return rejectUpgrade(socket, 'not_found');
    if (!this.accepting) return rejectUpgrade(socket, 'server_shutdown');
    // A page of another site must not use a browser's connection to this server.
    if (!originAllowed(req.headers.origin, req.headers.host, this.allowedOrigins)) {
      return rejectUpgrade(socket, 'origin_not_allowed');
    }
    const offered = req.headers['sec-websocket-protocol'];
    // A browser fails a handshake that answers none of its subprotocols: insist on ours.
    if (typeof offered === 'string' && !offered.split(',').some((p) => p.trim() === PROTOCOL)) {
      return rejectUpgrade(socket, 'invalid_field');
    }
    const token = tokenFromUpgrade(req);
    let ctx: AuthContext | null = null;
    try {
      ctx = token ? await this.auth.authenticate(token) : null;
    } catch (err) {
      this.log.error({ err }, 'authentication failed');
      return rejectUpgrade(socket, 'unavailable');
    }
    if (!ctx) return rejectUpgrade(socket, 'unauthorized');
    if ((this.byDevice.get(ctx.deviceId)?.size ?? 0) >= this.config.maxConnectionsPerDevice) {
      return rejectUpgrade(socket, 'rate_limited');
    }
    if ((this.byUser.get(ctx.userId)?.size ?? 0) >= this.config.maxConnectionsPerUser) {
      return rejectUpgrade(socket, 'rate_limited');
    }
    if (socket.destroyed) return;
    const authed = ctx;
    // The 101 waits (corked) for `ready`, so both leave in one write; `ready` uncorks.
    socket.cork();
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, authed));
  }

  private onConnection(ws: WebSocket, ctx: AuthContext): void {
    const conn = new Connection(this.nextId++, ws, ctx, {
      framesPerSec: this.config.frameRatePerSec,
      frameBurst: this.config.frameBurst,
      typingPerSec: this.config.typingRatePerSec,
      typingBurst: this.config.typingBurst,
      maxBufferedBytes: this.config.maxBufferedBytes,
    });
    conn.onGap = (c) => {
      c.gapTimer ??= setTimeout(() => this.refill(c), this.config.gapFillMs);
    };
    const routed = this.add(conn);
    this.presence.connected(ctx.userId, String(conn.id));
    this.presence.deviceActive(ctx.deviceId);
    ws.on('message', (data, isBinary) => this.onFrame(conn, data, isBinary));
    ws.on('close', (code) => {
      this.presence.disconnected(ctx.userId, String(conn.id), conn.cleanClose || code === 1000);
      this.remove(conn);
    });
    ws.on('error', (err) => {
      this.log.debug({ err, conn: conn.id }, 'socket error');
    });
    // Routed first, then the head read: nothing published after the read can miss this server.
    conn.ready = routed
      .then(() => this.heads.get(ctx.userId))
      .then(
        (pos) => {
          conn.readyPos = pos;
          conn.send({
            type: 'ready',
            userId: ctx.userId,
            deviceId: ctx.deviceId,
            pos,
            heartbeatMs: this.config.heartbeatMs,
            serverId: this.config.serverId,
          });
          uncorkAtTurnEnd(ws);
        },
        (err: unknown) => {
          this.log.error({ err }, 'feed head failed');
          conn.close(1011, 'unavailable');
          uncorkAtTurnEnd(ws);
        },
      );
  }

  /** Users whose events the bus is being told to route here (first connection opening). */
  private readonly attaching = new Map<string, Promise<void>>();

  /** Resolves once the bus routes the user's events here (before the feed head is read). */
  private attach(userId: string): Promise<void> {
    const pending = this.attaching.get(userId);
    if (pending) return pending;
    if (!this.bus.attach) return Promise.resolve();
    const p = this.bus.attach(userId).finally(() => this.attaching.delete(userId));
    this.attaching.set(userId, p);
    return p;
  }

  private add(conn: Connection): Promise<void> {
    let u = this.byUser.get(conn.ctx.userId);
    let routed = Promise.resolve();
    if (!u) {
      this.byUser.set(conn.ctx.userId, (u = new Set()));
      routed = this.attach(conn.ctx.userId);
    } else routed = this.attaching.get(conn.ctx.userId) ?? routed;
    u.add(conn);
    let d = this.byDevice.get(conn.ctx.deviceId);
    if (!d) this.byDevice.set(conn.ctx.deviceId, (d = new Set()));
    d.add(conn);
    this.metrics.connections.inc();
    return routed;
  }

  private remove(conn: Connection): void {
    conn.state = 'closed';
    conn.held = [];
    const u = this.byUser.get(conn.ctx.userId);
    if (u?.delete(conn) && u.size === 0) {
      this.byUser.delete(conn.ctx.userId);
      void this.bus.detach?.(conn.ctx.userId);
    }
    const d = this.byDevice.get(conn.ctx.deviceId);
    if (d?.delete(conn)) {
      if (d.size === 0) {
        this.byDevice.delete(conn.ctx.deviceId);
        this.presence.deviceGone(conn.ctx.deviceId);
      }
      this.metrics.connections.dec();
    }
  }

  private error(conn: Connection, code: ErrorCode, message?: string, ref?: string): void {
    this.metrics.errors.inc({ code });
    conn.sendError(code, message, ref);
  }

  private onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    conn.lastSeen = Date.now();
    this.presence.heartbeat(conn.ctx.userId);
    if (isBinary) return this.error(conn, 'invalid_json', 'Binary frames are not supported; send JSON text');
    const text = Array.isArray(data) ? Buffer.concat(data).toString() : data.toString();
    const decoded = decodeClientFrame(text);
    if (!decoded.ok) return this.error(conn, decoded.code, decoded.message, decoded.ref);
    if (!conn.frames.take(conn.lastSeen)) return this.overFrameRate(conn, decoded.frame);
    this.handle(conn, decoded.frame);
  }

  /**
   * A frame over the socket's frame rate: a send is refused, a read cursor is kept (the
   * highest per conversation) and stored a little later, anything else is dropped.
   */
  private overFrameRate(conn: Connection, frame: ClientFrame): void {
    switch (frame.type) {
      case 'send':
        return this.error(conn, 'rate_limited', undefined, frame.clientId);
      case 'read':
        if (conn.deferRead(frame.conversationId, frame.seq, MAX_DEFERRED_READS)) {
          setTimeout(() => this.flushDeferredReads(conn), DEFERRED_READ_MS).unref();
        }
        return;
      case 'sync': // once per connection: never dropped
        return this.handle(conn, frame);
      case 'ping':
      case 'delivered':
      case 'typing':
        return;
      default: {
        const never: never = frame;
        return never;
      }
    }
  }

  private flushDeferredReads(conn: Connection): void {
    const reads = [...conn.deferredReads];
    conn.deferredReads.clear();
    for (const [conversationId, seq] of reads) {
      this.messages.markRead(conn.ctx.userId, conversationId, seq).catch((err: unknown) => {
        this.replyError(conn, err);
      });
    }
  }

  private handle(conn: Connection, frame: ClientFrame): void {
    // What a person does (not heartbeats or receipts) keeps the device out of idle pushes.
    if (frame.type === 'send' || frame.type === 'read' || frame.type === 'typing') {
      this.presence.deviceActive(conn.ctx.deviceId);
    }
    switch (frame.type) {
      case 'send': {
        let pending;
        try {
          pending = this.messages.send(conn.ctx.userId, frame.conversationId, frame.clientId, frame.text);
        } catch (err) {
          return this.replyError(conn, err, frame.clientId);
        }
        pending.then(
          (ack) => conn.send({ type: 'ack', ...ack }),
          (err: unknown) => this.replyError(conn, err, frame.clientId),
        );
        return;
      }
      case 'sync':
        if (conn.state !== 'new')
          return this.error(conn, 'invalid_field', 'sync was already sent on this connection');
        conn.state = 'catching_up';
        void conn.ready.then(() => this.catchUp(conn, conn.syncStart(frame.since), true));
        return;
      case 'read':
        this.messages.markRead(conn.ctx.userId, frame.conversationId, frame.seq).catch((err: unknown) => {
          this.replyError(conn, err);
        });
        return;
      case 'ping':
        conn.send(frame.t === undefined ? { type: 'pong' } : { type: 'pong', t: frame.t });
        return;
      case 'delivered':
        // Coalesced and stored in batches, once the user is found to be a member.
        this.receipts.delivered(conn.ctx.userId, frame.conversationId, frame.seq);
        return;
      case 'typing':
        // Over the rate: dropped silently (typing is a hint).
        if (!conn.typing.take(conn.lastSeen)) return;
        this.typing(conn, frame.conversationId).catch((err: unknown) => this.replyError(conn, err));
        return;
      default: {
        const never: never = frame;
        return never;
      }
    }
  }

  private replyError(conn: Connection, err: unknown, ref?: string): void {
    if (err instanceof ParleyError) return this.error(conn, err.code, err.message, ref);
    this.log.error({ err }, 'unexpected error handling a frame');
    this.error(conn, 'internal', undefined, ref);
  }

  /**
   * A live connection's feed has a gap that did not fill (a bus event was lost or is late):
   * read the feed from the store after what it has, then carry on live.
   */
  private refill(conn: Connection): void {
    if (conn.state !== 'live') return;
    clearTimeout(conn.gapTimer);
    conn.gapTimer = undefined;
    conn.held = [...conn.waiting.values()];
    conn.waiting.clear();
    conn.state = 'catching_up';
    void this.catchUp(conn, conn.deliveredPos);
  }

  /** Relay a typing indicator to the conversation's other members (never stored). */
  private async typing(conn: Connection, conversationId: string): Promise<void> {
    const members = (await this.store.listMembers(conversationId)).map((m) => m.userId);
    const me = conn.ctx.userId;
    if (!members.includes(me)) throw new ParleyError('not_found', 'No such conversation');
    const others = members.filter((u) => u !== me);
    if (others.length === 1 && (await this.store.isBlockedEither(me, others[0] as string))) {
      const conv = await this.store.getConversation(conversationId);
      if (conv?.kind === 'direct') return;
    }
    const frame: TypingIndicatorFrame = {
      type: 'typing',
      conversationId,
      userId: me,
      ttlMs: this.config.typingTtlMs,
    };
    this.bus.publish({ type: 'deliver', userIds: others, frame: JSON.stringify(frame) });
  }

  /**
   * Stream everything after `since` (at most `readyPos` on a first sync) from the user's feed,
   * then switch to live delivery with no gap and no duplicate: live frames arriving meanwhile
   * are held, and afterwards only those past the last position streamed are written.
   */
  private async catchUp(conn: Connection, since: number, first = false): Promise<void> {
    if ((conn.state as string) === 'closed') return;
    let pos = since;
    try {
      // The connection's first sync from the head read for `ready` has nothing to read:
      // whatever was appended after that read was published after it, so after this
      // connection's bus route was in place, and is held on the connection; the held frames
      // are delivered below in feed order (a gap is filled from the store). A refill, a sync
      // from before the head, or held frames dropped (`overflowed`) read the store.
      const upToDate = first && pos === conn.readyPos && !conn.overflowed;
      // Each read is sized so its frames come to about `maxPageBytes`, from the sizes seen so far.
      let rows = 0;
      let bytes = 0;
      for (; !upToDate;) {
        conn.overflowed = false;
        for (;;) {
          const limit =
            rows === 0
              ? CATCHUP_FIRST_READ_ROWS
              : Math.max(
                  1,
                  Math.min(FEED_MOST_READ_ROWS, Math.ceil(this.config.maxPageBytes / (bytes / rows))),
                );
          const page = await this.feeds.get({ userId: conn.ctx.userId, since: pos, limit });
          if ((conn.state as string) === 'closed') return;
          for (const m of page.messages) {
            // Checked before every frame, not every page: one page can hold megabytes.
            if (conn.ws.bufferedAmount > CATCHUP_HIGH_WATER && !(await this.drained(conn))) return;
            const frame = Buffer.from(JSON.stringify({ type: 'message', message: m } satisfies MessageFrame));
            conn.write(frame);
            pos = m.pos;
            rows++;
            bytes += frame.length;
            this.metrics.messagesOut.inc();
          }
          if (!page.hasMore) break;
        }
        // Frames were dropped while we read: the store has them, read on from `pos`.
        if (!conn.overflowed) break;
      }
    } catch (err) {
      this.log.error({ err }, 'catch-up failed');
      conn.close(1011, 'unavailable');
      return;
    }
    const synced: SyncedFrame = { type: 'synced', pos };
    conn.send(synced);
    const held = conn.held;
    conn.held = [];
    conn.deliveredPos = pos;
    conn.state = 'live';
    // Frames that arrived meanwhile, through the same in-order path as live ones.
    for (const h of held) conn.deliver(h.frame, h.pos, h.prev);
  }

  /**
   * Wait until the socket's send buffer is below the catch-up high-water mark. A client that
   * reads is waited for however slowly it reads; one whose buffer does not shrink at all for
   * the heartbeat timeout is closed as a slow consumer. False when the connection closed.
   */
  private async drained(conn: Connection): Promise<boolean> {
    let last = conn.ws.bufferedAmount;
    let since = Date.now();
    while (conn.ws.bufferedAmount > CATCHUP_HIGH_WATER) {
      if ((conn.state as string) === 'closed') return false;
      await new Promise((r) => setTimeout(r, 5));
      const now = Date.now();
      if (conn.ws.bufferedAmount < last) {
        last = conn.ws.bufferedAmount;
        since = now;
      } else if (now - since > this.config.heartbeatTimeoutMs) {
        conn.close(ERRORS.slow_consumer.ws as number, 'slow_consumer');
        return false;
      }
    }
    return (conn.state as string) !== 'closed';
  }

  private onBusEvent(e: BusEvent): void {
    switch (e.type) {
      case 'deliver': {
        let frame: Buffer | undefined;
        let sent = 0;
        for (let i = 0; i < e.userIds.length; i++) {
          const conns = this.byUser.get(e.userIds[i] as string);
          if (!conns) continue;
          // Serialized once per fan-out, shared by every recipient socket.
          frame ??= Buffer.from(e.frame);
          const prev = e.prev?.[i];
          for (const c of conns) if (c.deliver(frame, e.pos, prev)) sent++;
        }
        if (sent > 0 && e.pos !== undefined) this.metrics.messagesOut.inc(sent);
        return;
      }
      case 'resync':
        for (const set of this.byDevice.values()) for (const c of set) if (c.state === 'live') this.refill(c);
        return;
      case 'revoke':
        for (const id of e.deviceIds) {
          for (const c of this.byDevice.get(id) ?? []) {
            // Logout and revocation: offline at once, no grace period.
            c.cleanClose = true;
            c.close(ERRORS.device_revoked.ws as number, 'device_revoked');
          }
        }
        return;
      default: {
        const never: never = e;
        return never;
      }
    }
  }

  /** Close connections that sent nothing (not even a ping) for heartbeatTimeoutMs. */
  private sweep(): void {
    const deadline = Date.now() - this.config.heartbeatTimeoutMs;
    for (const set of this.byDevice.values()) {
      for (const c of set) if (c.lastSeen < deadline) c.ws.terminate();
    }
  }

  private async touchDevices(): Promise<void> {
    const ids = [...this.byDevice.keys()];
    if (ids.length === 0) return;
    try {
      await this.store.touchDevices(ids, Date.now());
    } catch (err) {
      this.log.warn({ err }, 'could not record device activity');
    }
  }

  /** Stop taking connections and close every socket with 1001 ("going away"). */
  async shutdown(moveWaitMs = 5000): Promise<void> {
    this.accepting = false;
    for (const t of this.timers) clearInterval(t);
    await this.touchDevices();
    // Drain: ask every client to move now (the SDK reconnects through discovery), wait a
    // little for them to go, then close whoever is left with 1001.
    const move = Buffer.from(JSON.stringify({ type: 'move' }));
    for (const set of this.byDevice.values()) for (const c of set) c.write(move);
    const deadline = Date.now() + moveWaitMs;
    while (this.connectionCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.unsubscribe();
    for (const set of this.byDevice.values()) {
      for (const c of set) c.close(ERRORS.server_shutdown.ws as number, 'server_shutdown');
    }
  }
}
