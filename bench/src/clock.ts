import { performance } from 'node:perf_hooks';

const origin = performance.timeOrigin;

/**
 * Milliseconds since the epoch with sub-millisecond resolution. Every bench process derives
 * it from its own `performance.timeOrigin`, so timestamps taken in different processes on
 * one machine are comparable (to a few microseconds); latency is always the difference of
 * two readings of this clock.
 */
export function now(): number {
  return origin + performance.now();
}

/** CLOCK_MONOTONIC in microseconds: the clock V8 stamps `.cpuprofile` samples with. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Sleep until `now()` reaches `at`. */
export function sleepUntil(at: number): Promise<void> {
  return sleep(at - now());
}

/** A `now()` reading converted to CLOCK_MONOTONIC µs (to cut a `.cpuprofile` to a window). */
export function toMonotonicUs(t: number): number {
  return Math.round(t * 1000 + (monotonicUs() - now() * 1000));
}
