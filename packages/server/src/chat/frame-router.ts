import type { RawData } from 'ws';
import { ParleyError, decodeClientFrame } from '@parley/protocol';
import type { Ack, ClientFrame, ErrorCode } from '@parley/protocol';
import type { Logger } from '../logger.js';
import type { MessageService } from '../messages/message-service.js';
import type { Metrics } from '../metrics.js';
import type { PresenceTracker } from '../presence/presence.js';
import type { ReceiptService } from '../receipts/receipt-service.js';
import type { TypingService } from '../typing/typing-service.js';
import type { Connection } from './connection.js';

/** Conversations whose read cursors one socket may have waiting when it sends over the frame rate. */
const MAX_DEFERRED_READS = 64;
/** Deferred read cursors are stored this long after the first of them, ms. */
const DEFERRED_READ_MS = 1000;

export interface FrameRouterDeps {
  messages: MessageService;
  receipts: ReceiptService;
  typing: TypingService;
  presence: PresenceTracker;
  metrics: Metrics;
  log: Logger;
}

/**
 * Decodes each client frame, holds it to the socket's frame rate, and hands it to the service
 * that owns it. `sync` starts the connection's catch-up, which the chat server runs.
 */
export class FrameRouter {
  constructor(
    private readonly deps: FrameRouterDeps,
    /** Starts the connection's catch-up; throws (`invalid_field`) for a bad or second `sync`. */
    private readonly onSync: (conn: Connection, since: string | number | null) => void,
  ) {}

  onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    conn.lastSeen = Date.now();
    this.deps.presence.heartbeat(conn.ctx.userId);
    if (isBinary) return this.error(conn, 'invalid_json', 'Binary frames are not supported; send JSON text');
    const text = Array.isArray(data) ? Buffer.concat(data).toString() : data.toString();
    const decoded = decodeClientFrame(text);
    if (!decoded.ok) return this.error(conn, decoded.code, decoded.message, decoded.ref);
    if (!conn.frames.take(conn.lastSeen)) return this.overFrameRate(conn, decoded.frame);
    this.handle(conn, decoded.frame);
  }

  private error(conn: Connection, code: ErrorCode, message?: string, ref?: string): void {
    this.deps.metrics.errors.inc({ code });
    conn.sendError(code, message, ref);
  }

  /** Ack a send or action once stored; its refusal (now or later) answers with `ref` = clientId. */
  private ackWhenStored(conn: Connection, clientId: string, store: () => Promise<Ack>): void {
    let pending: Promise<Ack>;
    try {
      pending = store();
    } catch (err) {
      return this.replyError(conn, err, clientId);
    }
    pending.then(
      (ack) => conn.send({ type: 'ack', ...ack }),
      (err: unknown) => this.replyError(conn, err, clientId),
    );
  }

  private replyError(conn: Connection, err: unknown, ref?: string): void {
    if (err instanceof ParleyError) return this.error(conn, err.code, err.message, ref);
    this.deps.log.error({ err }, 'unexpected error handling a frame');
    this.error(conn, 'internal', undefined, ref);
  }

  /**
   * A frame over the socket's frame rate: a send is refused, a read cursor is kept (the
   * highest per conversation) and stored a little later, anything else is dropped.
   */
  private overFrameRate(conn: Connection, frame: ClientFrame): void {
    switch (frame.type) {
      case 'send':
      case 'action':
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
      case 'active': // a hint: a background that is not heard of ends with the idle time
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
      this.deps.messages.markRead(conn.ctx.userId, conversationId, seq).catch((err: unknown) => {
        this.replyError(conn, err);
      });
    }
  }

  private handle(conn: Connection, frame: ClientFrame): void {
    const { messages, presence, receipts, typing } = this.deps;
    // What a person does (not heartbeats or receipts) keeps the device out of idle pushes.
    if (
      frame.type === 'send' ||
      frame.type === 'action' ||
      frame.type === 'read' ||
      frame.type === 'typing'
    ) {
      presence.deviceActive(conn.ctx.deviceId);
    }
    switch (frame.type) {
      case 'send': {
        return this.ackWhenStored(conn, frame.clientId, () =>
          frame.replyTo === undefined && frame.attachments === undefined && !frame.preview
            ? messages.send(conn.ctx.userId, frame.conversationId, frame.clientId, frame.text)
            : messages.send(conn.ctx.userId, frame.conversationId, frame.clientId, frame.text, {
                ...(frame.replyTo !== undefined && { replyTo: frame.replyTo }),
                ...(frame.attachments !== undefined && { attachments: frame.attachments }),
                ...(frame.preview === true && { preview: true }),
              }),
        );
      }
      case 'action':
        return this.ackWhenStored(conn, frame.clientId, () =>
          messages.act(conn.ctx.userId, frame.conversationId, frame.clientId, frame.action),
        );
      case 'sync':
        try {
          this.onSync(conn, frame.since);
        } catch (err) {
          this.replyError(conn, err);
        }
        return;
      case 'read':
        messages.markRead(conn.ctx.userId, frame.conversationId, frame.seq).catch((err: unknown) => {
          this.replyError(conn, err);
        });
        return;
      case 'ping':
        conn.send(frame.t === undefined ? { type: 'pong' } : { type: 'pong', t: frame.t });
        return;
      case 'delivered':
        // Coalesced and stored in batches, once the user is found to be a member.
        receipts.delivered(conn.ctx.userId, frame.conversationId, frame.seq);
        return;
      case 'active':
        presence.deviceForeground(conn.ctx.deviceId, String(conn.id), frame.foreground);
        return;
      case 'typing':
        // Over the rate: dropped silently (typing is a hint).
        if (!conn.typing.take(conn.lastSeen)) return;
        typing
          .typing(conn.ctx.userId, frame.conversationId)
          .catch((err: unknown) => this.replyError(conn, err));
        return;
      default: {
        const never: never = frame;
        return never;
      }
    }
  }
}
