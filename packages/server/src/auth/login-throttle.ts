import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/** How failed logins for one username slow down the next attempts, whatever address they come from. */
export interface LoginThrottleOptions {
  /** Failed logins allowed for a username before each further one makes it wait. Default 5. */
  freeFailures: number;
  /** Wait after the first failure past `freeFailures`, ms; it doubles with each further failure. Default 1000. */
  baseMs: number;
  /** Longest wait, ms, so that the right password is never kept out for long. Default 300000 (5 min). */
  maxMs: number;
  /** A username's failure count is forgotten this long after its last failure, ms. Default 3600000. */
  resetMs: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = {
  freeFailures: 5,
  baseMs: 1000,
  maxMs: 300_000,
  resetMs: 3_600_000,
};

/**
 * Per-username login back-off. `check` answers how long the username must still wait (0: try
 * now); `failed` counts a wrong password and returns the wait it starts; `succeeded` forgets
 * the username. The caller checks before hashing, so a waiting username costs no scrypt.
 */
export interface LoginThrottle {
  check(username: string): Promise<number>;
  failed(username: string): Promise<number>;
  succeeded(username: string): Promise<void>;
}

/** The wait after the `failures`-th failure in a row. */
export function backoffMs(failures: number, o: LoginThrottleOptions): number {
  if (failures < o.freeFailures || o.baseMs <= 0) return 0;
  // 2^30 is far past any sane cap; the exponent is bounded so the product stays finite.
  return Math.min(o.maxMs, o.baseMs * 2 ** Math.min(30, failures - o.freeFailures));
}

/** Usernames remembered by the in-memory throttle at most; the oldest go first past it. */
const MEMORY_MAX = 100_000;

/** One process's throttle (the embedded store, or a cluster without Redis). */
export class MemoryLoginThrottle implements LoginThrottle {
  /** username → failures and the time the wait ends; insertion order is last-failure order. */
  private readonly entries = new Map<string, { failures: number; until: number; last: number }>();

  constructor(
    private readonly o: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE,
    private readonly clock: () => number = Date.now,
    private readonly max = MEMORY_MAX,
  ) {}

  async check(username: string): Promise<number> {
    const e = this.entries.get(username);
    return e ? Math.max(0, e.until - this.clock()) : 0;
  }

  async failed(username: string): Promise<number> {
    const now = this.clock();
    const old = this.entries.get(username);
    const failures = old && now - old.last < this.o.resetMs ? old.failures + 1 : 1;
    const wait = backoffMs(failures, this.o);
    this.entries.delete(username);
    this.entries.set(username, { failures, until: now + wait, last: now });
    for (const [name, e] of this.entries) {
      if (this.entries.size <= this.max && now - e.last < this.o.resetMs) break;
      this.entries.delete(name);
    }
    return wait;
  }

  async succeeded(username: string): Promise<void> {
    this.entries.delete(username);
  }
}

/**
 * The throttle shared by every server of a cluster: a failure counter per username (expiring
 * `resetMs` after the last failure) and a wait key that expires when the wait ends. When Redis
 * does not answer, logins go on unthrottled (the per-address limit still holds) rather than
 * locking everyone out.
 */
export class RedisLoginThrottle implements LoginThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly o: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE,
  ) {}

  private keys(username: string): { count: string; wait: string } {
    return { count: `${this.prefix}login:fail:${username}`, wait: `${this.prefix}login:wait:${username}` };
  }

  async check(username: string): Promise<number> {
    try {
      return Math.max(0, await this.redis.pttl(this.keys(username).wait));
    } catch (err) {
      this.log.warn({ err }, 'login throttle: redis unavailable');
      return 0;
    }
  }

  async failed(username: string): Promise<number> {
    const k = this.keys(username);
    try {
      const r = await this.redis.multi().incr(k.count).pexpire(k.count, this.o.resetMs).exec();
      const failures = Number(r?.[0]?.[1] ?? 1);
      const wait = backoffMs(failures, this.o);
      if (wait > 0) await this.redis.set(k.wait, '1', 'PX', wait);
      return wait;
    } catch (err) {
      this.log.warn({ err }, 'login throttle: redis unavailable');
      return 0;
    }
  }

  async succeeded(username: string): Promise<void> {
    const k = this.keys(username);
    try {
      await this.redis.del(k.count, k.wait);
    } catch (err) {
      this.log.warn({ err }, 'login throttle: redis unavailable');
    }
  }
}
