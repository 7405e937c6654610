import { MAX_NAME_LENGTH, ParleyError, codePointLength } from '@parley/protocol';

// C0/C1 control characters other than ordinary whitespace are never valid in names.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** A display, group or device name: trimmed, 1-64 code points, no control characters. */
export function cleanName(value: string, field: string): string {
  const v = value.trim();
  const n = codePointLength(v);
  if (n === 0 || n > MAX_NAME_LENGTH || CONTROL.test(v)) {
    throw new ParleyError(
      'invalid_field',
      `${field} must be 1-${MAX_NAME_LENGTH} characters without control characters`,
    );
  }
  return v;
}
