import type { WebSocket } from 'ws';
import { ERRORS } from '@parley/protocol';
import type { ErrorCode, ServerFrame } from '@parley/protocol';
import type { AuthContext } from '../auth/auth-service.js';

/** Frames held while a connection catches up; past this many, message frames are re-read from the store. */
const BUFFER_LIMIT = 2000;

/** A token bucket: `take()` is false when the rate is exceeded. */
export class TokenBucket {
  private tokens: number;
  private refilledAt = Date.now();
  constructor(
    private readonly perSec: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }
  take(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.perSec) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

interface Held {
  frame: Buffer;
  pos: number | undefined;
}

/**
 * One device's WebSocket. Life: `new` (ready sent, waiting for `sync`) → `catching_up`
 * (streaming the feed from the store; live frames are held) → `live`.
 */
export class Connection {
  state: 'new' | 'catching_up' | 'live' | 'closed' = 'new';
  /** Highest feed position written to this socket. */
  deliveredPos = 0;
  /** Head of the feed when `ready` was sent (`sync` with since=null starts here). */
  readyPos = 0;
  lastSeen = Date.now();
  /** Live frames held until catch-up ends. */
  held: Held[] = [];
  /** Message frames were dropped from `held`: catch-up must read the store again. */
  overflowed = false;
  /** Resolves once `ready` was sent (so `sync` with since=null starts at the right head). */
  ready: Promise<void> = Promise.resolve();
  /** Closed on purpose (logout, revocation): presence goes offline at once. */
  cleanClose = false;
  readonly sends: TokenBucket;
  readonly typing: TokenBucket;

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly ctx: AuthContext,
    private readonly rate: {
      perSec: number;
      burst: number;
      typingPerSec: number;
      typingBurst: number;
      maxBufferedBytes: number;
    },
  ) {
    this.sends = new TokenBucket(rate.perSec, rate.burst);
    this.typing = new TokenBucket(rate.typingPerSec, rate.typingBurst);
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
    if (this.state === 'closed') return false;
    if (this.ws.bufferedAmount > this.rate.maxBufferedBytes) {
      this.close(ERRORS.slow_consumer.ws as number, 'slow_consumer');
      return false;
    }
    this.ws.send(frame, { binary: false });
    return true;
  }

  /** A frame from the bus: written now when live, held while catching up, skipped if already delivered. */
  deliver(frame: Buffer, pos: number | undefined): boolean {
    if (this.state === 'live') {
      if (pos !== undefined) {
        if (pos <= this.deliveredPos) return false;
        this.deliveredPos = pos;
      }
      return this.write(frame);
    }
    if (this.state === 'closed') return false;
    if (this.held.length >= BUFFER_LIMIT) {
      // Keep control frames (rare), drop message frames: the store still has them.
      this.held = this.held.filter((h) => h.pos === undefined);
      this.overflowed = true;
      if (this.held.length >= BUFFER_LIMIT) {
        this.close(ERRORS.slow_consumer.ws as number, 'slow_consumer');
        return false;
      }
    }
    this.held.push({ frame, pos });
    return false;
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.held = [];
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
  }
}
