/**
 * Message text as Preact children: plain text nodes, with web addresses turned into links.
 * Nothing in the text is ever parsed as HTML: Preact creates text nodes, and a link's href
 * is only ever an http(s) URL built from the matched text.
 */
import type { ComponentChildren } from 'preact';

// http(s)://… or www.…, up to whitespace or a closing bracket/quote; trailing punctuation is
// left out, as people write "see https://example.com." at the end of a sentence.
const URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"'`]+/gi;
const TRAILING = /[.,:;!?)\]}'"]+$/;

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
    // Keep a closing parenthesis that has its opening one in the URL (Wikipedia links).
    if (trail !== null && !(trail[0] === ')' && raw.includes('(')))
      raw = raw.slice(0, raw.length - trail[0].length);
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

export function Linkified({ text }: { text: string }): ComponentChildren {
  return splitLinks(text).map((p, i) =>
    p.href === undefined ? (
      p.text
    ) : (
      <a key={i} href={p.href} target="_blank" rel="noopener noreferrer">
        {p.text}
      </a>
    ),
  );
}
