/**
 * Feed positions of a store with one position space (`capabilities.positionSpaces` = 1), as
 * the feed tests written for a single ordered feed use them.
 */
import { highestPosition } from '@parley/server';
import type { Positions } from '@parley/server';

/** The positions "seen up to `pos`" of a one-space feed (nothing for 0). */
export function at(pos: number): Positions {
  return new Map(pos > 0 ? [[0, pos]] : []);
}

/** The one position of a one-space feed head (0 when the feed is empty). */
export function headOf(p: Positions): number {
  return highestPosition(p);
}
