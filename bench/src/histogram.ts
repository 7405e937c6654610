/**
 * A mergeable latency histogram: values in microseconds, log-linear buckets (128 per power
 * of two, so a reported percentile is within 0.8% of the true value), exact min and max.
 * Workers send `counts` to the coordinator, which adds them up.
 */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS;
/** Up to 2^40 µs (12 days) without overflow. */
const BUCKETS = SUB + (40 - SUB_BITS) * SUB;

export interface HistogramData {
  counts: Float64Array;
  total: number;
  min: number;
  max: number;
  sum: number;
}

function indexOf(us: number): number {
  const v = Math.max(0, Math.floor(us));
  if (v < SUB) return v;
  const exp = v < 2 ** 31 ? 31 - Math.clz32(v) : Math.floor(Math.log2(v));
  const sub = Math.floor(v / 2 ** (exp - SUB_BITS)) - SUB;
  return Math.min(BUCKETS - 1, SUB + (exp - SUB_BITS) * SUB + sub);
}

/** Midpoint of a bucket, in µs. */
function valueOf(index: number): number {
  if (index < SUB) return index;
  const exp = Math.floor((index - SUB) / SUB) + SUB_BITS;
  const sub = (index - SUB) % SUB;
  const width = 2 ** (exp - SUB_BITS);
  return (SUB + sub) * width + width / 2;
}

export class Histogram implements HistogramData {
  counts = new Float64Array(BUCKETS);
  total = 0;
  min = Infinity;
  max = 0;
  sum = 0;

  /** Record one value in milliseconds. */
  recordMs(ms: number): void {
    const us = ms * 1000;
    const i = indexOf(us);
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.total++;
    this.sum += us;
    if (us < this.min) this.min = us;
    if (us > this.max) this.max = us;
  }

  /** Add another histogram (from a worker) into this one. */
  merge(other: HistogramData): void {
    for (let i = 0; i < BUCKETS; i++) {
      const c = other.counts[i] ?? 0;
      if (c !== 0) this.counts[i] = (this.counts[i] ?? 0) + c;
    }
    this.total += other.total;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  /** The q-th quantile (0..1) in milliseconds; null when empty. */
  quantileMs(q: number): number | null {
    if (this.total === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min(Math.max(valueOf(i), this.min), this.max) / 1000;
    }
    return this.max / 1000;
  }

  maxMs(): number | null {
    return this.total === 0 ? null : this.max / 1000;
  }

  meanMs(): number | null {
    return this.total === 0 ? null : this.sum / this.total / 1000;
  }

  toData(): HistogramData {
    return { counts: this.counts, total: this.total, min: this.min, max: this.max, sum: this.sum };
  }

  static from(data: HistogramData): Histogram {
    const h = new Histogram();
    h.merge(data);
    return h;
  }
}
