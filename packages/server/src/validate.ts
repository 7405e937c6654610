import { MAX_NAME_LENGTH, ParleyError, codePointLength } from '@parley/protocol';

// C0/C1 control characters other than ordinary whitespace are never valid in names.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

// Format characters (bidi overrides and isolates, zero-width spaces and joiners, tags, BOM) and
// the Hangul fillers draw nothing: they let one name pass for another or reorder its neighbours.
const INVISIBLE = /[\p{Cf}\u115f\u1160\u3164\uffa0]/u;

// Emoji sequences need the zero-width joiner between pictographs (👩‍💻, a skin tone allowed
// before it): that one is kept.
const EMOJI_JOINER =
  /(?<=\p{Extended_Pictographic}\ufe0f?[\u{1f3fb}-\u{1f3ff}]?)\u200d(?=\p{Extended_Pictographic})/gu;

/**
 * A display, group or device name: trimmed, 1-64 code points, no control characters and no
 * invisible format characters (a joiner inside an emoji sequence excepted).
 */
export function cleanName(value: string, field: string): string {
  const v = value.trim();
  const n = codePointLength(v);
  if (n === 0 || n > MAX_NAME_LENGTH || CONTROL.test(v) || INVISIBLE.test(v.replace(EMOJI_JOINER, ''))) {
    throw new ParleyError(
      'invalid_field',
      `${field} must be 1-${MAX_NAME_LENGTH} characters without control or invisible characters`,
    );
  }
  return v;
}
