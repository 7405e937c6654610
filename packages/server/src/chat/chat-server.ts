import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { ERRORS, PROTOCOL, ParleyError } from '@parley/protocol';
import type { MessageFrame, SyncedFrame } from '@parley/protocol';
import type { AuthContext, AuthService } from '../auth/auth-service.js';
import type { Bus, BusEvent } from '../bus/bus.js';
import type { ServerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { FEED_MOST_READ_ROWS } from '../messages/message-service.js';
import type { MessageService } from '../messages/message-service.js';
import type { Metrics } from '../metrics.js';
import type { PresenceTracker } from '../presence/presence.js';
import type { ReceiptService } from '../receipts/receipt-service.js';
import type { AccountStore, FeedPage, FeedRead, MessageStore, Positions } from '../store/store.js';
import {
  advance,
  formatCursor,
  highestPosition,
  parseCursor,
  samePositions,
} from '../store/common/feed-cursor.js';
import type { TypingService } from '../typing/typing-service.js';
import { Connection, uncorkAtTurnEnd } from './connection.js';
import { ConnectionRegistry } from './connection-registry.js';
import { FrameRouter } from './frame-router.js';
import { UpgradeGate, rejectUpgrade } from './upgrade.js';
import { TurnBatch } from '../turn-batch.js';

/** Catch-up waits for a socket's send buffer to fall below this before writing the next frame. */
const CATCHUP_HIGH_WATER = 1024 * 1024;
/** Rows of the first store read of a catch-up (later reads are sized by the page byte budget). */
const CATCHUP_FIRST_READ_ROWS = 32;
/** How often device `lastSeenAt` is written for connected devices (one batched write). */
const TOUCH_INTERVAL_MS = 60_000;

/**
 * The chat service: accepts WebSocket upgrades that pass the `UpgradeGate`, keeps each
 * connection in the `ConnectionRegistry`, lets the `FrameRouter` hand client frames to the
 * services, and runs each connection's catch-up, then live delivery from the bus.
 */
export class ChatServer {
  private readonly wss: WebSocketServer;
  private readonly registry: ConnectionRegistry;
  private readonly gate: UpgradeGate;
  private readonly router: FrameRouter;
  private nextId = 1;
  private accepting = true;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsubscribe: () => void;
  /** Feed heads for `ready`, read once per turn for every connection the turn opened. */
  private readonly heads: TurnBatch<string, Positions>;
  /** Catch-up pages of every connection syncing at the same time, in one store call. */
  private readonly feeds: TurnBatch<FeedRead, FeedPage>;

  constructor(
    private readonly config: ServerConfig,
    auth: AuthService,
    messages: MessageService,
    typing: TypingService,
    messageStore: MessageStore,
    private readonly accounts: AccountStore,
    bus: Bus,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly presence: PresenceTracker,
    receipts: ReceiptService,
    /** The store's position spaces (`capabilities.positionSpaces`). */
    private readonly positionSpaces = 1,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: config.maxFrameBytes,
      handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
    });
    this.registry = new ConnectionRegistry(bus, metrics);
    this.gate = new UpgradeGate(config, auth, this.registry, log);
    this.router = new FrameRouter({ messages, receipts, typing, presence, metrics, log }, (conn, since) =>
      this.sync(conn, since),
    );
    this.unsubscribe = bus.subscribe((e) => this.onBusEvent(e));
    this.heads = new TurnBatch((userIds) => messageStore.feedHeads(userIds));
    this.feeds = new TurnBatch((reads) => messageStore.readFeeds(reads));
    const sweepEvery = Math.max(50, Math.min(config.heartbeatMs, config.heartbeatTimeoutMs / 3));
    this.timers.push(setInterval(() => this.sweep(), sweepEvery).unref());
    this.timers.push(setInterval(() => void this.touchDevices(), TOUCH_INTERVAL_MS).unref());
  }

  get connectionCount(): number {
    return this.registry.size;
  }

  /** Handle an HTTP upgrade on /v1/ws: every check passes before the upgrade happens. */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const verdict = await this.gate.check(req, this.accepting);
    if (typeof verdict === 'string') return rejectUpgrade(socket, verdict);
    if (socket.destroyed) return;
    // The 101 waits (corked) for `ready`, so both leave in one write; `ready` uncorks.
    socket.cork();
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, verdict));
  }

  private onConnection(ws: WebSocket, ctx: AuthContext): void {
    const conn = new Connection(
      this.nextId++,
      ws,
      ctx,
      {
        framesPerSec: this.config.frameRatePerSec,
        frameBurst: this.config.frameBurst,
        typingPerSec: this.config.typingRatePerSec,
        typingBurst: this.config.typingBurst,
        maxBufferedBytes: this.config.maxBufferedBytes,
      },
      { fillMs: this.config.gapFillMs, onGapTimeout: (c) => this.refill(c) },
      this.positionSpaces,
    );
    const routed = this.registry.add(conn);
    this.presence.connected(ctx.userId, String(conn.id));
    this.presence.deviceConnected(ctx.deviceId, String(conn.id));
    ws.on('message', (data, isBinary) => this.router.onFrame(conn, data, isBinary));
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
        (head) => {
          conn.readyAt(head);
          conn.send({
            type: 'ready',
            userId: ctx.userId,
            deviceId: ctx.deviceId,
            pos: highestPosition(head),
            cursor: formatCursor(head),
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

  private remove(conn: Connection): void {
    conn.closed();
    this.registry.remove(conn);
    this.presence.deviceDisconnected(conn.ctx.deviceId, String(conn.id));
  }

  /**
   * The connection's one `sync`: catch up from `since` (a cursor, a legacy position, or null
   * for the head) once `ready` was sent. Throws `invalid_field` for a malformed cursor or a
   * second `sync`.
   */
  private sync(conn: Connection, since: string | number | null): void {
    const from = since === null ? null : parseCursor(since, this.positionSpaces);
    if (!conn.beginCatchUp())
      throw new ParleyError('invalid_field', 'sync was already sent on this connection');
    void conn.ready.then(() => this.catchUp(conn, conn.syncStart(from), true));
  }

  /**
   * A live connection's feed has a gap that did not fill (a bus event was lost or is late):
   * read the feed from the store after what it has, then carry on live.
   */
  private refill(conn: Connection): void {
    const from = conn.beginRefill();
    if (from !== undefined) void this.catchUp(conn, from);
  }

  /**
   * Stream everything after `since` (at most the `ready` head on a first sync) from the user's feed,
   * then switch to live delivery with no gap and no duplicate: live frames arriving meanwhile
   * are held, and afterwards only those past the last position streamed are written.
   */
  private async catchUp(conn: Connection, since: Positions, first = false): Promise<void> {
    if ((conn.state as string) === 'closed') return;
    const pos = new Map(since);
    try {
      // The connection's first sync from the head read for `ready` has nothing to read:
      // whatever was appended after that read was published after it, so after this
      // connection's bus route was in place, and is held on the connection; the held frames
      // are delivered below in feed order (a gap is filled from the store). A refill, a sync
      // from before the head, or held frames dropped (`overflowed`) read the store.
      const dropped = conn.takeOverflowed();
      let read = dropped || !(first && samePositions(pos, conn.readyPositions));
      // Each read is sized so its frames come to about `maxPageBytes`, from the sizes seen so far.
      let rows = 0;
      let bytes = 0;
      while (read) {
        for (;;) {
          const limit =
            rows === 0
              ? CATCHUP_FIRST_READ_ROWS
              : Math.max(
                  1,
                  Math.min(FEED_MOST_READ_ROWS, Math.ceil(this.config.maxPageBytes / (bytes / rows))),
                );
          // A copy: `pos` moves on while the batch may still be waiting for the turn's end.
          const page = await this.feeds.get({ userId: conn.ctx.userId, since: new Map(pos), limit });
          if ((conn.state as string) === 'closed') return;
          for (const m of page.messages) {
            // Checked before every frame, not every page: one page can hold megabytes.
            if (conn.ws.bufferedAmount > CATCHUP_HIGH_WATER && !(await this.drained(conn))) return;
            advance(pos, m.pos, this.positionSpaces);
            const frame = Buffer.from(
              JSON.stringify({
                type: 'message',
                cursor: formatCursor(pos),
                message: m,
              } satisfies MessageFrame),
            );
            conn.write(frame);
            rows++;
            bytes += frame.length;
            this.metrics.messagesOut.inc();
          }
          if (!page.hasMore) break;
        }
        // Frames were dropped while we read: the store has them, read on from `pos`.
        read = conn.takeOverflowed();
      }
    } catch (err) {
      this.log.error({ err }, 'catch-up failed');
      conn.close(1011, 'unavailable');
      return;
    }
    const synced: SyncedFrame = { type: 'synced', pos: highestPosition(pos), cursor: formatCursor(pos) };
    conn.send(synced);
    if (conn.goLive(pos)) this.refill(conn);
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
          const conns = this.registry.ofUser(e.userIds[i] as string);
          if (!conns) continue;
          // Serialized once per fan-out, shared by every recipient socket.
          frame ??= Buffer.from(e.frame);
          const prev = e.prev?.[i];
          for (const c of conns) if (c.deliver(frame, e.pos, prev)) sent++;
        }
        if (sent > 0 && e.pos !== undefined) this.metrics.messagesOut.inc(sent);
        return;
      }
      case 'recheck':
        for (const u of e.userIds) {
          for (const c of this.registry.ofUser(u) ?? []) if (c.recheck()) this.refill(c);
        }
        return;
      case 'resync':
        for (const c of this.registry.all()) if (c.recheck()) this.refill(c);
        return;
      case 'revoke':
        for (const id of e.deviceIds) {
          for (const c of this.registry.ofDevice(id)) {
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
    for (const c of this.registry.all()) if (c.lastSeen < deadline) c.ws.terminate();
  }

  private async touchDevices(): Promise<void> {
    const ids = this.registry.deviceIds();
    if (ids.length === 0) return;
    try {
      await this.accounts.touchDevices(ids, Date.now());
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
    for (const c of this.registry.all()) c.write(move);
    const deadline = Date.now() + moveWaitMs;
    while (this.connectionCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.unsubscribe();
    for (const c of [...this.registry.all()]) c.close(ERRORS.server_shutdown.ws as number, 'server_shutdown');
  }
}
