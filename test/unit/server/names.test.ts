/** Display, group and device names: invisible and bidi format characters are refused. */
import { describe, expect, it } from 'vitest';
import { cleanName } from '../../../packages/server/src/validate.js';

const refused = [
  ['a right-to-left override', 'Bob\u202eevil'],
  ['a left-to-right isolate', '\u2066Bob\u2069'],
  ['a right-to-left mark', 'Bob\u200f'],
  ['an Arabic letter mark', 'Bob\u061c'],
  ['a zero-width space', 'B\u200bob'],
  ['a zero-width non-joiner', 'Bo\u200cb'],
  ['a zero-width joiner between letters', 'Bo\u200db'],
  ['a word joiner', 'Bo\u2060b'],
  ['a byte order mark', 'Bo\ufeffb'],
  ['a soft hyphen', 'Bo\u00adb'],
  ['a tag character', 'Bob\u{e0041}'],
  ['a Hangul filler', '\u3164'],
  ['only an invisible character', '\u200b'],
];

describe('cleanName', () => {
  it.each(refused)('refuses %s', (_what, name) => {
    expect(() => cleanName(name, 'displayName')).toThrow(
      expect.objectContaining({ code: 'invalid_field' }) as Error,
    );
  });

  it.each([
    ['plain text', 'Alice L.', 'Alice L.'],
    ['right-to-left script', 'مريم', 'مريم'],
    ['an emoji ZWJ sequence', 'Ana 👩‍💻', 'Ana 👩‍💻'],
    ['a family emoji with skin tones', '👩🏽‍👩🏽‍👧🏽', '👩🏽‍👩🏽‍👧🏽'],
    ['a heart with a variation selector', 'Bob ❤️', 'Bob ❤️'],
    ['surrounding spaces', '  Bob  ', 'Bob'],
  ])('accepts %s', (_what, name, cleaned) => {
    expect(cleanName(name, 'displayName')).toBe(cleaned);
  });
});
