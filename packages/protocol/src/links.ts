/**
 * Web addresses in message text. A link's href is only ever an http(s) URL built from the
 * matched text; the text itself is shown as text.
 */

// http(s)://… or www.… not inside a word, up to whitespace or a closing bracket/quote;
// trailing punctuation is left out, as people write "see https://example.com." at the end of a
// sentence, and so are formatting markers, as in "*https://example.com*".
const URL_RE = /(?<![\p{L}\p{N}])(?:https?:\/\/|www\.)[^\s<>"'`]+/giu;
const TRAILING = /[.,:;!?)\]}'"*_~]+$/;

export interface TextPart {
  text: string;
  href?: string;
}

/** Split text into plain parts and link parts. */
export function splitLinks(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let raw = match[0];
    const start = match.index;
    const trail = TRAILING.exec(raw);
    if (trail !== null) {
      // Keep a closing parenthesis that has its opening one in the URL (Wikipedia links).
      const cut = trail[0].startsWith(')') && raw.includes('(') ? trail[0].slice(1) : trail[0];
      raw = raw.slice(0, raw.length - cut.length);
    }
    if (raw.length === 0) continue;
    const href = /^https?:\/\//i.test(raw) ? raw : `https://${raw}`;
    let url: URL;
    try {
      url = new URL(href);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    if (start > last) parts.push({ text: text.slice(last, start) });
    parts.push({ text: raw, href: url.href });
    last = start + raw.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/** Longest URL a preview is made for. */
export const MAX_PREVIEW_URL_LENGTH = 2048;
// As splitLinks finds links, but http(s) only (no bare www.): not inside a word,
// up to whitespace or a bracket/quote, trailing punctuation and formatting markers left out.
const FIRST_URL_RE = /(?<![\p{L}\p{N}])https?:\/\/[^\s<>"'`]+/giu;
const CODE_BLOCK = /```[\s\S]*?```/g;
const CODE_SPAN = /`[^`\n]+`/g;

/**
 * The first http(s) URL in a message's text, as `URL.href`, or null. Code blocks and code
 * spans are skipped, so are URLs longer than 2048 characters; trailing punctuation is not part
 * of a URL, except a closing parenthesis whose opening one is in it.
 */
export function firstUrl(text: string): string | null {
  const prose = text.replace(CODE_BLOCK, ' ').replace(CODE_SPAN, ' ');
  for (const match of prose.matchAll(FIRST_URL_RE)) {
    let raw = match[0];
    const trail = TRAILING.exec(raw);
    if (trail !== null) {
      const cut = trail[0].startsWith(')') && raw.includes('(') ? trail[0].slice(1) : trail[0];
      raw = raw.slice(0, raw.length - cut.length);
    }
    if (raw.length > MAX_PREVIEW_URL_LENGTH) continue;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '') {
      if (url.href.length <= MAX_PREVIEW_URL_LENGTH) return url.href;
    }
  }
  return null;
}
