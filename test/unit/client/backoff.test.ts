import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  DEFAULT_BASE_DELAY_MS,
  DEFAULT_MAX_DELAY_MS,
} from '../../../packages/client/src/index.js';

describe('backoffDelay (full jitter)', () => {
  it('is random() times min(max, base * 2^attempt)', () => {
    const half = () => 0.5;
    const options = { baseDelayMs: 100, maxDelayMs: 1_000 };
    expect([0, 1, 2, 3, 4, 5, 50].map((attempt) => backoffDelay(attempt, options, half))).toEqual([
      50, 100, 200, 400, 500, 500, 500,
    ]);
  });

  it('spans the whole window from 0 to the ceiling', () => {
    const options = { baseDelayMs: 100, maxDelayMs: 1_000 };
    expect(backoffDelay(3, options, () => 0)).toBe(0);
    expect(backoffDelay(3, options, () => 0.999)).toBeCloseTo(799.2);
  });

  it('defaults to base 250 ms and max 10 s', () => {
    expect(DEFAULT_BASE_DELAY_MS).toBe(250);
    expect(DEFAULT_MAX_DELAY_MS).toBe(10_000);
    expect(backoffDelay(0, {}, () => 1)).toBe(250);
    expect(backoffDelay(2, {}, () => 1)).toBe(1_000);
    expect(backoffDelay(10, {}, () => 1)).toBe(10_000);
  });

  it('stays capped for attempts where 2^attempt overflows', () => {
    expect(backoffDelay(5_000, { baseDelayMs: 250, maxDelayMs: 10_000 }, () => 1)).toBe(10_000);
  });
});
