/** Search result snippets: matches stay on their characters, the text is cut around the first. */
import { describe, expect, it } from 'vitest';
import { snippet } from '../../../packages/web/src/lib/snippet.js';

const show = (pieces: ReturnType<typeof snippet>) =>
  pieces.map((p) => (p.match ? `[${p.text}]` : p.text)).join('');

describe('snippet', () => {
  it('marks the highlighted ranges of a short text', () => {
    expect(show(snippet('Meet at the Café?', [[12, 16]]))).toBe('Meet at the [Café]?');
    expect(
      show(
        snippet('a b a', [
          [0, 1],
          [4, 5],
        ]),
      ),
    ).toBe('[a] b [a]');
    expect(show(snippet('no match here', []))).toBe('no match here');
  });

  it('cuts a long text around the first match, at a space, with ellipses', () => {
    const text = `${'word '.repeat(40)}needle ${'tail '.repeat(60)}`;
    const at = text.indexOf('needle');
    const out = show(snippet(text, [[at, at + 6]], 60, 20));
    expect(out.startsWith('…word ')).toBe(true);
    expect(out).toContain('[needle]');
    expect(out.endsWith('…')).toBe(true);
  });

  it('keeps surrogate pairs whole and shows line breaks as spaces', () => {
    const text = `${'😀'.repeat(30)}x\nfound`;
    const at = text.indexOf('found');
    const pieces = snippet(text, [[at, at + 5]], 50, 11);
    expect(pieces.map((p) => p.text).join('')).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    expect(show(pieces)).toMatch(/x \[found\]$/);
  });

  it('clips a highlight that runs past the end', () => {
    expect(show(snippet('abcdefgh', [[4, 8]], 2, 0))).toBe('…[ef]…');
  });
});
