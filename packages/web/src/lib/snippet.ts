/**
 * The part of a found message shown in search results: the raw text around the first match,
 * cut with an ellipsis, in pieces that are matched or not (shown as text, never parsed).
 */

export interface SnippetPiece {
  text: string;
  match: boolean;
}

const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/**
 * Pieces of `text` from up to `before` characters ahead of the first highlight, `max` long at
 * most. `highlights` are sorted [start, end) offsets into `text` (UTF-16 units).
 */
export function snippet(
  text: string,
  highlights: readonly (readonly [number, number])[],
  max = 160,
  before = 40,
): SnippetPiece[] {
  const first = Math.min(highlights[0]?.[0] ?? 0, text.length);
  let start = Math.max(0, first - before);
  // Start after a space when one is close, and never inside a surrogate pair.
  const space = start > 0 ? text.indexOf(' ', start - 1) : -1;
  if (space !== -1 && space < first) start = space + 1;
  if (start > 0 && isLow(text.charCodeAt(start))) start--;
  let end = Math.min(text.length, start + max);
  if (end < text.length && isLow(text.charCodeAt(end))) end++;

  const pieces: SnippetPiece[] = [];
  // Whitespace (line breaks, tabs) shows as one space each: offsets stay the same.
  const push = (from: number, to: number, match: boolean) => {
    if (to > from) pieces.push({ text: text.slice(from, to).replace(/\s/g, ' '), match });
  };
  let at = start;
  for (const [s0, e0] of highlights) {
    const s = Math.max(s0, at);
    const e = Math.min(e0, end);
    if (e <= s) continue;
    push(at, s, false);
    push(s, e, true);
    at = e;
  }
  push(at, end, false);
  if (start > 0) pieces.unshift({ text: '…', match: false });
  if (end < text.length) pieces.push({ text: '…', match: false });
  return pieces;
}
