/**
 * Feed positions for tests that read a feed as one list ordered by position: "everything up
 * to position P" as the positions of every position space, and a head as its highest position.
 */
import { highestPosition } from '@parley/server';
import type { Positions } from '@parley/server';

/**
 * The cursor of a reader that has every message at or below `pos`, with `spaces` position
 * spaces: in each space, the highest number at or below `pos` that belongs to it (a message of
 * that space above it is above `pos` too).
 */
export function upTo(pos: number, spaces: number): Positions {
  const out = new Map<number, number>();
  for (let s = 0; s < spaces; s++) {
    const p = pos - ((((pos - s) % spaces) + spaces) % spaces);
    if (p > 0) out.set(s, p);
  }
  return out;
}

/** `upTo` of a store with one position space: `pos` itself (nothing for 0). */
export function at(pos: number): Positions {
  return upTo(pos, 1);
}

/** The highest position of a feed head (0 when the feed is empty). */
export function headOf(p: Positions): number {
  return highestPosition(p);
}
