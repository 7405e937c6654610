import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_CURSOR_LENGTH, ParleyError } from '@parley/protocol';
import {
  advance,
  clampToHead,
  formatCursor,
  highestPosition,
  parseCursor,
  samePositions,
  spaceOf,
} from '../../../packages/server/src/store/common/feed-cursor.js';

const SPACES = [1, 2, 7, 64];

/** Positions with at most one per space, for `spaces` spaces. */
const positionsOf = (spaces: number) =>
  fc
    .uniqueArray(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), {
      maxLength: spaces,
      selector: (p) => spaceOf(p, spaces),
    })
    .map((ps) => new Map(ps.map((p) => [spaceOf(p, spaces), p])));

function expectInvalid(c: string | number, spaces: number): void {
  let caught: unknown;
  try {
    parseCursor(c, spaces);
  } catch (err) {
    caught = err;
  }
  expect(caught, JSON.stringify(c)).toBeInstanceOf(ParleyError);
  expect((caught as ParleyError).code).toBe('invalid_field');
}

describe('feed cursor', () => {
  it('is the decimal position with one space, so numeric cursors keep working', () => {
    expect(formatCursor(new Map([[0, 4481]]))).toBe('4481');
    expect(formatCursor(new Map())).toBe('0');
    expect(parseCursor('4481', 1)).toEqual(new Map([[0, 4481]]));
    expect(parseCursor(4481, 1)).toEqual(new Map([[0, 4481]]));
    expect(parseCursor(0, 1)).toEqual(new Map());
    expect(parseCursor('0', 1)).toEqual(new Map());
    expect(parseCursor(null, 1)).toEqual(new Map());
    expect(parseCursor(undefined, 64)).toEqual(new Map());
  });

  it('joins one position per space, ascending', () => {
    const p = new Map([
      [spaceOf(4547, 64), 4547],
      [spaceOf(4481, 64), 4481],
      [spaceOf(4482, 64), 4482],
    ]);
    expect(formatCursor(p)).toBe('4481.4482.4547');
    expect(parseCursor('4547.4481.4482', 64)).toEqual(p);
    expect(highestPosition(p)).toBe(4547);
    expect(highestPosition(new Map())).toBe(0);
  });

  it('round-trips: parse(format(p)) = p and format(parse(c)) = c', () => {
    for (const spaces of SPACES) {
      fc.assert(
        fc.property(positionsOf(spaces), (p) => {
          const c = formatCursor(p);
          expect(c.length).toBeLessThanOrEqual(MAX_CURSOR_LENGTH);
          expect(parseCursor(c, spaces)).toEqual(p);
          expect(formatCursor(parseCursor(c, spaces))).toBe(c);
        }),
      );
    }
  });

  it('advance keeps the highest position of each space', () => {
    for (const spaces of SPACES) {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 1_000_000 }), { maxLength: 200 }), (seen) => {
          const p = new Map<number, number>();
          for (const pos of seen) advance(p, pos, spaces);
          const want = new Map<number, number>();
          for (const pos of seen) {
            const s = spaceOf(pos, spaces);
            want.set(s, Math.max(want.get(s) ?? 0, pos));
          }
          expect(p).toEqual(want);
        }),
      );
    }
  });

  it('clamps a cursor past the head per space', () => {
    const head = new Map([
      [0, 128],
      [1, 65],
    ]);
    const since = new Map([
      [0, 640],
      [1, 1],
      [2, 2],
    ]);
    expect(clampToHead(since, head)).toEqual(
      new Map([
        [0, 128],
        [1, 1],
      ]),
    );
    expect(samePositions(clampToHead(head, head), head)).toBe(true);
    expect(samePositions(new Map([[0, 0]]), new Map())).toBe(true);
    expect(samePositions(since, head)).toBe(false);
  });

  it('refuses malformed cursors with invalid_field', () => {
    for (const c of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, 2 ** 60]) expectInvalid(c, 1);
    for (const c of [
      '',
      '.',
      '1.',
      '.1',
      '1..2',
      '-1',
      '+1',
      '1.5e3',
      ' 1',
      '1 ',
      '0x10',
      'abc',
      '9007199254740992',
      '99999999999999999',
      '1.2', // two positions of one space when L = 1
    ]) {
      expectInvalid(c, 1);
    }
    expectInvalid('64.128', 64); // both in space 0
    expectInvalid('0.0', 64);
    expectInvalid('1.2.3', 2); // more positions than spaces
    expectInvalid(Array.from({ length: 65 }, (_, i) => String(i + 1)).join('.'), 64);
    expectInvalid('1'.repeat(MAX_CURSOR_LENGTH + 1), 64);
    expectInvalid(`${'0'.repeat(MAX_CURSOR_LENGTH)}1`, 1);
  });

  it('never throws anything but invalid_field on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (c) => {
        try {
          const p = parseCursor(c, 64);
          for (const [s, pos] of p) expect(spaceOf(pos, 64)).toBe(s);
        } catch (err) {
          expect((err as ParleyError).code).toBe('invalid_field');
        }
      }),
    );
  });
});
