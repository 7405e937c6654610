import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { ERRORS } from '@parley/protocol';
import type { ErrorCode, ServerFrame } from '@parley/protocol';
import type { AuthContext } from '../auth/auth-service.js';
import { TokenBucket } from '../rate-limit.js';
import { NO_POSITIONS, advance, clampToHead, formatCursor, spaceOf } from '../store/common/feed-cursor.js';
import type { Positions } from '../store/common/feed-cursor.js';

/** Frames held while a connection catches up; past this many, message frames are re-read from the store. */
const BUFFER_LIMIT = 2000;

/**
 * Sockets written to during this event-loop turn, corked until the turn ends: every frame a
 * turn writes to one socket (a batch of acks and fan-outs) leaves in one writev instead of
 * one system call per frame.
 */
const corked: Socket[] = [];
function uncorkAll(): void {
  for (const s of corked.splice(0)) s.uncork();
}
function cork(ws: WebSocket): void {
  const socket = (ws as unknown as { _socket?: Socket })._socket;
  if (!socket || socket.writableCorked > 0) return;
  socket.cork();
  if (corked.push(socket) === 1) process.nextTick(uncorkAll);
}

/**
 * Leave a socket that was corked by hand (the upgrade's 101 waiting for `ready`) to the
 * end of this turn, so what the turn writes next (e.g. `synced`) joins it in one writev.
 */
export function uncorkAtTurnEnd(ws: WebSocket): void {
  const socket = (ws as unknown as { _socket?: Socket })._socket;
  if (!socket) return;
  if (socket.writableCorked === 0) return;
  if (corked.includes(socket)) return;
  if (corked.push(socket) === 1) process.nextTick(uncorkAll);
}

/** How every message frame the services serialize starts; the cursor is spliced in after it. */
const MESSAGE_FRAME_START = Buffer.from('{"type":"message",');

/**
 * A serialized message frame with the frame-level `cursor` put in front of its other fields,
 * without parsing or serializing it again (one frame is shared by every recipient socket).
 * Any other frame is returned as it is.
 */
export function withCursor(frame: Buffer, cursor: string): Buffer {
  const n = MESSAGE_FRAME_START.length;
  if (frame.length < n || MESSAGE_FRAME_START.compare(frame, 0, n, 0, n) !== 0) return frame;
  const head = `{"type":"message","cursor":"${cursor}",`;
  // A cursor is digits and dots: one byte per character.
  const out = Buffer.allocUnsafe(head.length + frame.length - n);
  out.write(head, 0, 'latin1');
  frame.copy(out, head.length, n);
  return out;
}

export interface Held {
  frame: Buffer;
  pos: number | undefined;
  /** The user's previous feed position before `pos` in its position space (0: none). */
  prev: number | undefined;
}

/** Out-of-order frames a live connection keeps while waiting for the missing one. */
const WAITING_LIMIT = 1000;

export type DeliveryState = 'new' | 'catching_up' | 'live' | 'closed';

/**
 * One device's WebSocket, and the only owner of its delivery state. Life: `new` (ready sent,
 * waiting for `sync`) → `catching_up` (the chat server streams the feed from the store; live
 * frames are held) → `live` (frames from the bus, in feed order; a gap that does not fill
 * in time goes back to `catching_up` from what was delivered).
 */
export class Connection {
  #state: DeliveryState = 'new';
  /** Highest feed position written to this socket, per position space. */
  #delivered = new Map<number, number>();
  /** Head of the feed when `ready` was sent (`sync` with since=null starts here). */
  #ready: Positions = NO_POSITIONS;
  /** Live frames held until catch-up ends. */
  #held: Held[] = [];
  /** Message frames were dropped from `held`: catch-up must read the store again. */
  #overflowed = false;
  /** Message frames that arrived before their predecessor, by the predecessor's position. */
  readonly #waiting = new Map<number, Held>();
  /** Armed while frames wait for a predecessor; when it fires the gap is filled from the store. */
  #gapTimer: NodeJS.Timeout | undefined;
  /** A recheck came before this connection was live: read the store once more when it is. */
  #recheck = false;
  lastSeen = Date.now();
  /** Resolves once `ready` was sent (so `sync` with since=null starts at the right head). */
  ready: Promise<void> = Promise.resolve();
  /** Closed on purpose (logout, revocation): presence goes offline at once. */
  cleanClose = false;
  /** Every frame this socket sends, whatever its type. */
  readonly frames: TokenBucket;
  readonly typing: TokenBucket;
  /** Read cursors that came over the frame rate: the highest seq per conversation, stored later. */
  readonly deferredReads = new Map<string, number>();

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly ctx: AuthContext,
    private readonly rate: {
      framesPerSec: number;
      frameBurst: number;
      typingPerSec: number;
      typingBurst: number;
      maxBufferedBytes: number;
    },
    /** A gap in live delivery is left this long to fill, ms; then `onGapTimeout` is called. */
    private readonly gap: { fillMs: number; onGapTimeout: (conn: Connection) => void },
    /** The store's position spaces: feed order holds within a space (space = pos % spaces). */
    private readonly spaces = 1,
  ) {
    this.frames = new TokenBucket(rate.framesPerSec, rate.frameBurst);
    this.typing = new TokenBucket(rate.typingPerSec, rate.typingBurst);
  }

  /**
   * Where this connection's `sync` starts: `since`, but in no position space after the head
   * sent in `ready`, so that everything committed after `ready` is delivered once whatever
   * the client claims to have (a cursor past the head comes from a server whose data went
   * back, e.g. to a backup).
   */
  syncStart(since: Positions | null): Positions {
    return since === null ? this.#ready : clampToHead(since, this.#ready);
  }

  get state(): DeliveryState {
    return this.#state;
  }

  /** Highest feed position written to this socket, per position space. */
  get delivered(): Positions {
    return this.#delivered;
  }

  /** This device's cursor: what was written to this socket. */
  get cursor(): string {
    return formatCursor(this.#delivered);
  }

  get readyPositions(): Positions {
    return this.#ready;
  }

  /** `ready` told the client the feed head is `head`. */
  readyAt(head: Positions): void {
    this.#ready = head;
  }

  /** The client's `sync`: catching up starts. False when this connection already synced. */
  beginCatchUp(): boolean {
    if (this.#state !== 'new') return false;
    this.#state = 'catching_up';
    return true;
  }

  /**
   * A live gap did not fill in time: hold what waits and catch up again. Returns the
   * positions to read the store from, or undefined when the connection is not live.
   */
  beginRefill(): Positions | undefined {
    if (this.#state !== 'live') return undefined;
    clearTimeout(this.#gapTimer);
    this.#gapTimer = undefined;
    this.#held = [...this.#waiting.values()];
    this.#waiting.clear();
    this.#state = 'catching_up';
    return new Map(this.#delivered);
  }

  /** Whether held message frames were dropped since the last call (the store has them). */
  takeOverflowed(): boolean {
    const o = this.#overflowed;
    this.#overflowed = false;
    return o;
  }

  /**
   * Messages may have been committed without reaching the bus (see the bus's `recheck`).
   * True when the store should be read now (live); otherwise it is read once this
   * connection is live, since a catch-up under way may have passed before their commit.
   */
  recheck(): boolean {
    if (this.#state === 'live') return true;
    if (this.#state !== 'closed') this.#recheck = true;
    return false;
  }

  /**
   * Catch-up wrote the feed up to `at`: go live, then deliver what was held meanwhile.
   * True when a recheck came meanwhile (the caller reads the store again).
   */
  goLive(at: Positions): boolean {
    if (this.#state !== 'catching_up') return false;
    const held = this.#held;
    this.#held = [];
    this.#delivered = new Map(at);
    this.#state = 'live';
    // Through the same in-order path as live frames.
    for (const h of held) this.deliver(h.frame, h.pos, h.prev);
    const again = this.#recheck;
    this.#recheck = false;
    return again && this.#state === 'live';
  }

  /** The socket closed (by either side): drop everything held. */
  closed(): void {
    this.#state = 'closed';
    this.#held = [];
    this.#waiting.clear();
    clearTimeout(this.#gapTimer);
    this.deferredReads.clear();
  }

  send(frame: ServerFrame): void {
    this.write(Buffer.from(JSON.stringify(frame)));
  }

  sendError(code: ErrorCode, message?: string, ref?: string): void {
    const spec = ERRORS[code];
    const frame: ServerFrame = {
      type: 'error',
      code,
      message: message ?? spec.message,
      retryable: spec.retryable,
    };
    if (ref !== undefined) frame.ref = ref;
    this.send(frame);
  }

  /** Write a serialized frame; a socket that stops reading is closed rather than buffered without bound. */
  write(frame: Buffer): boolean {
    if (this.#state === 'closed') return false;
    if (this.ws.bufferedAmount > this.rate.maxBufferedBytes) {
      this.close(ERRORS.slow_consumer.ws as number, 'slow_consumer');
      return false;
    }
    cork(this.ws);
    this.ws.send(frame, { binary: false });
    return true;
  }

  /** Write the message frame at `pos`, stamped with this device's cursor after it. */
  private writeMessage(frame: Buffer, pos: number): boolean {
    advance(this.#delivered, pos, this.spaces);
    return this.write(withCursor(frame, this.cursor));
  }

  /**
   * A frame from the bus. Live: message frames are written in feed order within their
   * position space (a frame whose `prev` is past what was delivered waits for the missing
   * one; duplicates are skipped), other frames at once. Catching up: held until catch-up ends.
   */
  deliver(frame: Buffer, pos: number | undefined, prev: number | undefined): boolean {
    if (this.#state === 'live') {
      if (pos === undefined) return this.write(frame);
      const space = spaceOf(pos, this.spaces);
      const at = this.#delivered.get(space) ?? 0;
      if (pos <= at) return false;
      if (prev !== undefined && prev > at) {
        this.#waiting.set(prev, { frame, pos, prev });
        if (this.#waiting.size > WAITING_LIMIT) this.#waiting.clear(); // the store re-read brings them
        this.#gapTimer ??= setTimeout(() => this.gap.onGapTimeout(this), this.gap.fillMs);
        return false;
      }
      const ok = this.writeMessage(frame, pos);
      // Anything that was waiting for this one (and so on down the chain, all in this space).
      for (
        let next = this.#waiting.get(pos);
        next;
        next = this.#waiting.get(this.#delivered.get(space) ?? 0)
      ) {
        this.#waiting.delete(next.prev as number);
        if ((next.pos as number) > (this.#delivered.get(space) ?? 0)) {
          this.writeMessage(next.frame, next.pos as number);
        }
      }
      if (this.#waiting.size === 0 && this.#gapTimer !== undefined) {
        clearTimeout(this.#gapTimer);
        this.#gapTimer = undefined;
      }
      return ok;
    }
    if (this.#state === 'closed') return false;
    if (this.#held.length >= BUFFER_LIMIT) {
      // Keep control frames (rare), drop message frames: the store still has them.
      this.#held = this.#held.filter((h) => h.pos === undefined);
      this.#overflowed = true;
      if (this.#held.length >= BUFFER_LIMIT) {
        this.close(ERRORS.slow_consumer.ws as number, 'slow_consumer');
        return false;
      }
    }
    this.#held.push({ frame, pos, prev });
    return false;
  }

  /**
   * Keep a read cursor that came over the frame rate (only the highest seq per conversation,
   * for at most `max` conversations). True when it is the first one waiting.
   */
  deferRead(conversationId: string, seq: number, max: number): boolean {
    const cur = this.deferredReads.get(conversationId);
    if (cur === undefined && this.deferredReads.size >= max) return false;
    if (cur === undefined || seq > cur) this.deferredReads.set(conversationId, seq);
    return this.deferredReads.size === 1 && cur === undefined;
  }

  close(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    this.closed();
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
  }
}
