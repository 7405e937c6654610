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

/** What `attempt` decided. */
export interface Attempt {
  /** How long the username must still wait, ms; 0: go ahead. */
  waitMs: number;
  /** When going ahead: the wait this attempt starts for the next ones should it fail, ms. */
  backoffMs: number;
}

/**
 * Per-username login back-off. `attempt` is called before hashing, so a waiting username costs
 * no scrypt: either the username must still wait (the attempt is refused and not counted), or
 * the attempt is counted as a failure at once, in the same step, so that guesses sent together
 * cannot all pass before the first is found wrong. `succeeded` forgets the username.
 */
export interface LoginThrottle {
  attempt(username: string): Promise<Attempt>;
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

  async attempt(username: string): Promise<Attempt> {
    const now = this.clock();
    const old = this.entries.get(username);
    if (old && old.until > now) return { waitMs: old.until - now, backoffMs: 0 };
    const failures = old && now - old.last < this.o.resetMs ? old.failures + 1 : 1;
    const wait = backoffMs(failures, this.o);
    this.entries.delete(username);
    this.entries.set(username, { failures, until: now + wait, last: now });
    for (const [name, e] of this.entries) {
      if (this.entries.size <= this.max && now - e.last < this.o.resetMs) break;
      this.entries.delete(name);
    }
    return { waitMs: 0, backoffMs: wait };
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
/**
 * One atomic step (see `attempt`): refuse while the wait key lives; else count the attempt and,
 * past the free failures, set the wait key for the following ones. Returns {wait, backoff}.
 */
const ATTEMPT_SCRIPT = `
local wait = redis.call('PTTL', KEYS[1])
if wait > 0 then return {wait, 0} end
local n = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
local free, base, max = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if n < free or base <= 0 then return {0, 0} end
local backoff = math.min(max, base * 2 ^ math.min(30, n - free))
redis.call('SET', KEYS[1], '1', 'PX', math.floor(backoff))
return {0, math.floor(backoff)}
`;

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

  async attempt(username: string): Promise<Attempt> {
    const k = this.keys(username);
    const o = this.o;
    try {
      const r = (await this.redis.eval(
        ATTEMPT_SCRIPT,
        2,
        k.wait,
        k.count,
        o.resetMs,
        o.freeFailures,
        o.baseMs,
        o.maxMs,
      )) as [number, number];
      return { waitMs: Number(r[0]), backoffMs: Number(r[1]) };
    } catch (err) {
      this.log.warn({ err }, 'login throttle: redis unavailable');
      return { waitMs: 0, backoffMs: 0 };
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
