/**
 * Text from the server, made safe to print on a terminal. Any user can put control
 * characters in a message or a name, and a terminal obeys them: clear the screen, set the
 * window title, write the clipboard (OSC 52), hide text, or move the cursor to forge lines.
 */

/**
 * Characters that must not reach the terminal as they are: C0 controls, DEL, C1 controls
 * (U+0080–U+009F: a lone U+009B starts a sequence on some terminals), the bidi controls
 * (which reorder what follows them on screen) and the line and paragraph separators.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** How an unsafe character is shown: `^[` for ESC and the other C0 controls, `\u009b` for the rest. */
export function visibleEscape(c: string): string {
  const code = c.charCodeAt(0);
  if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
  if (code === 0x7f) return '^?';
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

/** A name (display name, username, group name) or an error message on one line, every unsafe character shown escaped. */
export function escapeLine(text: string): string {
  return text.replace(UNSAFE, visibleEscape);
}

/**
 * Message text: line feeds and tabs are kept (a message may have several lines), every
 * other unsafe character is shown escaped. Each line after the first starts with `indent`,
 * so that no line of a message can pass for a line of the client's own.
 */
export function escapeText(text: string, indent = '  '): string {
  return text
    .split('\n')
    .map((part) => part.replace(UNSAFE, (c) => (c === '\t' ? c : visibleEscape(c))))
    .join(`\n${indent}`);
}

/** At most `max` code points of `text` on one line, with `…` when cut; escaped like `escapeLine`. */
export function preview(text: string, max: number): string {
  const points = Array.from(text.replace(/\s+/g, ' '));
  const cut = points.length > max ? `${points.slice(0, max).join('')}…` : text.replace(/\s+/g, ' ');
  return escapeLine(cut);
}
