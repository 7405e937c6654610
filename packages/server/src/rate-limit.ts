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

  /** Take `n` tokens (default 1); false, taking none, when fewer are left. */
  take(now: number, n = 1): boolean {
    this.refill(now);
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** True when the bucket has refilled to its burst (it can be forgotten). */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    this.tokens = Math.min(
      this.burst,
      this.tokens + (Math.max(0, now - this.refilledAt) * this.perSec) / 1000,
    );
    this.refilledAt = now;
  }
}

/**
 * Token buckets by key (a user id), shared by every socket and request of that key in this
 * process. Buckets that refilled are forgotten now and then, so idle keys cost no memory.
 */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();
  private sweptAt = Date.now();

  constructor(
    private readonly perSec: number,
    private readonly burst: number,
    /** How often full buckets are dropped, ms. */
    private readonly sweepMs = 60_000,
  ) {}

  take(key: string, now: number, n = 1): boolean {
    if (now - this.sweptAt >= this.sweepMs) this.sweep(now);
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = new TokenBucket(this.perSec, this.burst)));
    return b.take(now, n);
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [key, b] of this.buckets) if (b.full(now)) this.buckets.delete(key);
  }
}
