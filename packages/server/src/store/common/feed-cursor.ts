/**
 * Feed cursors. A feed position belongs to one of the store's position spaces
 * (`capabilities.positionSpaces`, L): space = pos % L. Within a space a user's feed grows in
 * commit order; across spaces there is no order, so "what a reader has" is one position per
 * space. Clients get it as an opaque string: the positions joined by '.', ascending; with
 * L = 1 that is the decimal position, so the numeric cursors of older clients still parse.
 */
import { MAX_CURSOR_LENGTH, ParleyError } from '@parley/protocol';

/** Space -> last position seen in it; a missing space means 0 (nothing seen). */
export type Positions = ReadonlyMap<number, number>;

/** No position seen in any space. */
export const NO_POSITIONS: Positions = new Map<number, number>();

/** The position space of `pos` among `spaces`. */
export function spaceOf(pos: number, spaces: number): number {
  return pos % spaces;
}

function invalid(why: string): ParleyError {
  return new ParleyError('invalid_field', `since is not a feed cursor: ${why}`);
}

/** Put one client-given position into `out`; 0 (nothing seen) still claims its space. */
function take(out: Map<number, number>, pos: number, spaces: number): void {
  const s = spaceOf(pos, spaces);
  if (out.has(s)) throw invalid('two positions of one space');
  out.set(s, pos);
}

/**
 * A client's cursor as positions: a cursor string, a legacy number (a position), or
 * null/undefined (nothing seen). Throws `invalid_field` on anything else.
 */
export function parseCursor(c: string | number | null | undefined, spaces: number): Map<number, number> {
  const out = new Map<number, number>();
  if (c === null || c === undefined) return out;
  if (typeof c === 'number') {
    if (!Number.isSafeInteger(c) || c < 0) throw invalid('a position is a non-negative integer');
    take(out, c, spaces);
  } else {
    if (c.length > MAX_CURSOR_LENGTH) throw invalid('too long');
    const parts = c.split('.');
    if (parts.length > spaces) throw invalid('more positions than position spaces');
    for (const part of parts) {
      if (!/^[0-9]{1,16}$/.test(part)) throw invalid('a position is a non-negative integer');
      const pos = Number(part);
      if (!Number.isSafeInteger(pos)) throw invalid('a position is at most 2^53 - 1');
      take(out, pos, spaces);
    }
  }
  for (const [s, pos] of out) if (pos === 0) out.delete(s);
  return out;
}

/** The client-facing cursor of `p`: its positions ascending, joined by '.'; "0" when empty. */
export function formatCursor(p: Positions): string {
  if (p.size <= 1) {
    for (const pos of p.values()) if (pos > 0) return String(pos);
    return '0';
  }
  const all: number[] = [];
  for (const pos of p.values()) if (pos > 0) all.push(pos);
  if (all.length === 0) return '0';
  return all.sort((a, b) => a - b).join('.');
}

/** `pos` was seen: its space moves to it (never back). */
export function advance(p: Map<number, number>, pos: number, spaces: number): void {
  const s = spaceOf(pos, spaces);
  if (pos > (p.get(s) ?? 0)) p.set(s, pos);
}

/** The highest position of any space (the legacy single-number `pos`); 0 when empty. */
export function highestPosition(p: Positions): number {
  let max = 0;
  for (const pos of p.values()) if (pos > max) max = pos;
  return max;
}

/**
 * `since`, but in no space past `head`: a cursor from a store whose data went back (e.g. to a
 * backup) starts each space at that space's head instead of waiting for the feed to pass it.
 */
export function clampToHead(since: Positions, head: Positions): Map<number, number> {
  const out = new Map<number, number>();
  for (const [s, pos] of since) {
    const at = Math.min(pos, head.get(s) ?? 0);
    if (at > 0) out.set(s, at);
  }
  return out;
}

/** Whether `a` is past `head` in some space (the case `clampToHead` changes). */
export function isPastHead(a: Positions, head: Positions): boolean {
  for (const [s, pos] of a) if (pos > (head.get(s) ?? 0)) return true;
  return false;
}

/** Whether two cursors name the same positions (spaces at 0 count as missing). */
export function samePositions(a: Positions, b: Positions): boolean {
  let n = 0;
  for (const [s, pos] of a) {
    if (pos === 0) continue;
    if (b.get(s) !== pos) return false;
    n++;
  }
  let m = 0;
  for (const pos of b.values()) if (pos > 0) m++;
  return n === m;
}

/** The positions of a store with one position space whose head is `pos` (0: none). */
export function inSpaceZero(pos: number): Positions {
  return pos > 0 ? new Map([[0, pos]]) : NO_POSITIONS;
}
