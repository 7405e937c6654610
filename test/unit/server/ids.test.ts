import { describe, expect, it } from 'vitest';
import { ulid } from '@parley/server/dist/ids.js';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

describe('ulid', () => {
  it('is 26 Crockford base32 characters, sorted in creation order, and never repeats', () => {
    const start = Date.now() + 1_000_000;
    const ids: string[] = [];
    // 1,000 milliseconds (each draws fresh random bits: more than one 4 KB pool) with
    // three ids in each (the same millisecond increments the random part).
    for (let t = 0; t < 1000; t++) for (let k = 0; k < 3; k++) ids.push(ulid(start + t));
    for (const id of ids) expect(id).toMatch(ULID);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // A clock step back keeps the order.
    const after = ulid(start - 5);
    expect(after > (ids[ids.length - 1] as string)).toBe(true);
  });

  it('draws the random part from fresh bytes each millisecond', () => {
    const start = Date.now() + 2_000_000;
    const randoms = new Set<string>();
    for (let t = 0; t < 500; t++) randoms.add(ulid(start + t).slice(10));
    expect(randoms.size).toBe(500);
  });
});
