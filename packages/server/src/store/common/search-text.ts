/**
 * Search text: how message text and queries become tokens, written once for every store so
 * that both index, match and highlight the same way.
 *
 * - Words come from `Intl.Segmenter` (ICU: it finds the words of Thai and other scripts
 *   written without spaces); a word is cut at anything but letters, marks and digits ("don't"
 *   → "don" "t"), and each part normalized: NFKC, lower case, diacritics of Latin, Greek and
 *   Cyrillic letters dropped ("Café" → "cafe").
 * - Text in Latin, Greek and Cyrillic only skips the segmenter: it never cuts a run of their
 *   letters, so runs of letters and digits are the same words, found ~50 times faster (the
 *   append tokenizes every message).
 * - Han, kana and Hangul are indexed as overlapping bigrams of each run of them, whatever the
 *   segmenter made of it, plus the run's last character alone: a dictionary never knows every
 *   name, and Korean words carry their particles ("서울에"), while a bigram query finds any
 *   substring of two characters or more (and `X*` any single one).
 * - A token holds only letters, marks and digits (never ASCII punctuation or space), so the
 *   stores take the space-separated token string as is: SQLite's `ascii` FTS5 tokenizer and a
 *   PostgreSQL tsvector literal split it back into exactly these tokens.
 */

import { MAX_SEARCH_QUERY_LENGTH } from '@parley/protocol';

/** Longest query read: the protocol's limit (the HTTP API refuses longer ones). */
export const SEARCH_QUERY_MAX = MAX_SEARCH_QUERY_LENGTH;
/** Terms a query keeps (words past this are ignored). */
export const SEARCH_TERMS_MAX = 16;
/**
 * How age weighs in the rank: relevance × 1 / (1 + age / SEARCH_RECENCY_MS), so a message a
 * month old counts half as much as one just sent with the same words.
 */
export const SEARCH_RECENCY_MS = 30 * 24 * 3600 * 1000;
/**
 * Matches ranked per search: the newest this many matching messages the user can see (by
 * position), so that a word in half the messages costs no more than one in a thousand. With
 * `dm` at 5,000 msgs/s over 1,000,000 messages, 1,000 gave search p99 165 ms and 300 gave 90 ms.
 */
export const SEARCH_CANDIDATES = 300;
/** Tokens indexed per message: the first ones of a very long text. */
export const SEARCH_TOKENS_MAX = 4096;

export interface Token {
  /** The normalized token. */
  text: string;
  /** Where it comes from in the original text, UTF-16 offsets [start, end). */
  start: number;
  end: number;
}

/**
 * A query term: one token (`prefix`: also any token starting with it), or a phrase of CJK
 * bigrams that must follow each other.
 */
export interface QueryTerm {
  tokens: readonly string[];
  prefix: boolean;
  /** A prefix only because it is the query's last word, perhaps still being typed. */
  typed?: boolean;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' });
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30fc]/u;
const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30fc]+/gu;
const FOLD_MARKS = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}])\p{M}+/gu;
/** A word's parts: letters, marks and digits, from a letter or digit on. */
const WORD_PART = /[\p{L}\p{N}][\p{L}\p{M}\p{N}]*/gu;
/**
 * Text the segmenter would cut only where WORD_PART does: letters of these scripts, marks,
 * ASCII digits, and what never is part of a word (punctuation, symbols, spaces, controls).
 */
const SEGMENTER_FREE =
  /^[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}\p{M}0-9\p{P}\p{S}\p{Z}\p{Cc}\p{Cf}]*$/u;
/** Printable ASCII: lower case is all its normalization (controls take the long way, same result). */
const ASCII = /^[ -~]*$/;
/** What a token never holds: anything but letters, marks and digits. */
const NOT_TOKEN = /[^\p{L}\p{M}\p{N}]+/gu;
/** Code points a token keeps: longer words are cut (PostgreSQL refuses lexemes past 2 KB). */
const TOKEN_CHARS_MAX = 32;

/** One word normalized: NFKC, lower case, Latin/Greek/Cyrillic diacritics and punctuation dropped. */
export function normalizeWord(word: string): string {
  // ASCII letters and digits: lower case is all the normalization they need.
  if (ASCII.test(word)) {
    const a = word.toLowerCase().replace(NOT_TOKEN, '');
    return a.length > TOKEN_CHARS_MAX ? a.slice(0, TOKEN_CHARS_MAX) : a;
  }
  const t = word
    .normalize('NFKC')
    .toLowerCase()
    // Full case folding where lower case is not enough.
    .replace(/ß/g, 'ss')
    .replace(/ς/g, 'σ')
    .normalize('NFD')
    .replace(FOLD_MARKS, '$1')
    .normalize('NFC')
    .replace(NOT_TOKEN, '');
  return t.length > TOKEN_CHARS_MAX ? [...t].slice(0, TOKEN_CHARS_MAX).join('') : t;
}

/** A word of a text, or a run of adjacent CJK characters (one token per character). */
type Piece = { run: false; token: Token } | { run: true; chars: Token[] };

/** The words and CJK runs of a text, in order, with their offsets. */
function pieces(text: string): Piece[] {
  const out: Piece[] = [];
  const word = (w: string, start: number) => {
    for (const m of w.matchAll(WORD_PART)) {
      const t = normalizeWord(m[0]);
      const at = start + m.index;
      if (t !== '') out.push({ run: false, token: { text: t, start: at, end: at + m[0].length } });
    }
  };
  if (SEGMENTER_FREE.test(text)) {
    word(text, 0);
    return out;
  }
  for (const s of segmenter.segment(text)) {
    if (!s.isWordLike) continue;
    if (!CJK.test(s.segment)) {
      word(s.segment, s.index);
      continue;
    }
    // Letters or digits next to CJK in one segment ("第3回"): the CJK runs apart, the rest as words.
    let at = 0;
    for (const m of s.segment.matchAll(CJK_RUN)) {
      word(s.segment.slice(at, m.index), s.index + at);
      let pos = s.index + m.index;
      const last = out[out.length - 1];
      // Adjacent CJK segments ("北京" "大学") are one run: bigrams cross the segmenter's guesses.
      const run =
        last?.run && last.chars[last.chars.length - 1]?.end === pos
          ? last
          : { run: true as const, chars: [] };
      if (run !== last) out.push(run);
      for (const ch of m[0]) {
        const t = normalizeWord(ch);
        if (t !== '') run.chars.push({ text: t, start: pos, end: pos + ch.length });
        pos += ch.length;
      }
      at = m.index + m[0].length;
    }
    word(s.segment.slice(at), s.index + at);
  }
  return out;
}

/** The tokens of a text with their offsets, in order: words, and each CJK run's bigrams then its last character. */
export function tokenize(text: string, max = SEARCH_TOKENS_MAX): Token[] {
  const out: Token[] = [];
  for (const p of pieces(text)) {
    if (!p.run) out.push(p.token);
    else {
      const cs = p.chars;
      for (let i = 0; i + 1 < cs.length; i++) {
        const a = cs[i] as Token;
        const b = cs[i + 1] as Token;
        out.push({ text: a.text + b.text, start: a.start, end: b.end });
      }
      const last = cs[cs.length - 1];
      if (last) out.push(last);
    }
    if (out.length >= max) return out.slice(0, max);
  }
  return out;
}

/** The token string a store indexes for a message's text. */
export function indexTokens(text: string): string {
  return tokenize(text)
    .map((t) => t.text)
    .join(' ');
}

/**
 * A query's terms: each word a term, the last one also as a prefix; each CJK run one phrase
 * of its bigrams (a single character: a prefix, matching any bigram it starts or a run's end).
 * An empty list when the query has no word (the caller answers nothing).
 */
export function queryTerms(query: string): QueryTerm[] {
  const terms: QueryTerm[] = [];
  for (const p of pieces(query.slice(0, SEARCH_QUERY_MAX))) {
    if (!p.run) terms.push({ tokens: [p.token.text], prefix: false });
    else if (p.chars.length === 1) terms.push({ tokens: [(p.chars[0] as Token).text], prefix: true });
    else if (p.chars.length > 1) {
      terms.push({
        tokens: p.chars.slice(1).map((c, i) => (p.chars[i] as Token).text + c.text),
        prefix: false,
      });
    }
  }
  const kept = dedupe(terms).slice(0, SEARCH_TERMS_MAX);
  const last = kept[kept.length - 1];
  // A one-letter prefix would match a good part of the index: only from two on.
  const word = last?.tokens.length === 1 ? (last.tokens[0] as string) : '';
  if (last && !last.prefix && !CJK.test(word) && [...word].length >= 2) {
    kept[kept.length - 1] = { tokens: last.tokens, prefix: true, typed: true };
  }
  return kept;
}

function dedupe(terms: QueryTerm[]): QueryTerm[] {
  const seen = new Set<string>();
  return terms.filter((t) => {
    const k = `${t.prefix ? '*' : ''}${t.tokens.join(' ')}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * The query with its last word as a whole word, when it was taken as a prefix too; else null.
 * A store may find candidates with it first: a finished word that is frequent has enough
 * matches of its own, and a prefix of seven letters merges the posting lists of every word
 * that starts with it (60 ms for one in six messages over 1,000,000).
 */
export function wholeWords(terms: readonly QueryTerm[]): QueryTerm[] | null {
  const last = terms[terms.length - 1];
  if (last?.typed !== true) return null;
  return [...terms.slice(0, -1), { tokens: last.tokens, prefix: false }];
}

/** The query as an FTS5 MATCH expression: every term, each a quoted token, phrase or prefix. */
export function fts5Query(terms: readonly QueryTerm[]): string {
  return terms.map((t) => `"${t.tokens.join(' ')}"${t.prefix ? '*' : ''}`).join(' AND ');
}

/** The query as a PostgreSQL tsquery literal (read by `::tsquery`, no parser involved). */
export function tsQuery(terms: readonly QueryTerm[]): string {
  return terms
    .map((t) => {
      const parts = t.tokens.map((x) => `'${x}'`);
      if (t.prefix) parts[parts.length - 1] += ':*';
      return parts.length > 1 ? `(${parts.join(' <-> ')})` : (parts[0] as string);
    })
    .join(' & ');
}

/** A message's tokens as a PostgreSQL tsvector literal, with positions for phrase queries. */
export function tsVector(text: string): string {
  // At most SEARCH_TOKENS_MAX tokens of 32 characters: well within a tsvector's 1 MB.
  return tokenize(text)
    .map((t, i) => `'${t.text}':${i + 1}`)
    .join(' ');
}

/** Where `term` matches in `tokens`: the index of each match's first token. */
function* matchesOf(tokens: readonly Token[], term: QueryTerm): Generator<number> {
  const n = term.tokens.length;
  for (let i = 0; i + n <= tokens.length; i++) {
    let ok = true;
    for (let k = 0; k < n && ok; k++) {
      const want = term.tokens[k] as string;
      const got = (tokens[i + k] as Token).text;
      ok = term.prefix && k === n - 1 ? got.startsWith(want) : got === want;
    }
    if (ok) yield i;
  }
}

/**
 * Where the query's terms are in a message's text: UTF-16 ranges [start, end) of the original
 * text, sorted, overlaps merged. Computed here, from the text, so every store answers the same.
 */
export function highlights(text: string, terms: readonly QueryTerm[]): [number, number][] {
  const tokens = tokenize(text);
  const ranges: [number, number][] = [];
  for (const term of terms) {
    const n = term.tokens.length;
    for (const i of matchesOf(tokens, term)) {
      const first = tokens[i] as Token;
      const last = tokens[i + n - 1] as Token;
      // A single CJK character matches the start of a bigram: only that character is found.
      const one = term.prefix && CJK.test(term.tokens[0] as string);
      ranges.push([
        first.start,
        one ? first.start + (text.codePointAt(first.start)! > 0xffff ? 2 : 1) : last.end,
      ]);
    }
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const top = merged[merged.length - 1];
    if (top && r[0] <= top[1]) top[1] = Math.max(top[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

/** BM25's term-frequency saturation and length normalization, and a message's usual length in words. */
const K1 = 1.2;
const B = 0.75;
const USUAL_WORDS = 12;
/** Words for the length: each CJK character (as their bigrams count), else runs of letters and digits. */
const LENGTH_WORD =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]|[\p{L}\p{M}\p{N}]+/gu;

/** Text folded for counting: compatibility forms, lower case, no combining marks. */
function folded(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase();
}

/** How many times `needle` occurs in `hay` (not overlapping). */
function occurrences(hay: string, needle: string): number {
  let n = 0;
  for (let at = hay.indexOf(needle); at !== -1; at = hay.indexOf(needle, at + needle.length)) n++;
  return n;
}

/** What a term reads as in folded text: a word, or a CJK phrase rebuilt from its bigrams. */
function termText(term: QueryTerm): string {
  const [first, ...rest] = term.tokens as [string, ...string[]];
  return CJK.test(first) ? first + rest.map((t) => t.slice(-1)).join('') : folded(first);
}

/**
 * How well a text matches the query, from the text alone: BM25's term part (more occurrences
 * count, with diminishing returns; a long message counts each one less) without its corpus
 * part. Every ranked candidate holds every term (the match is an AND), so the corpus part would
 * only reweigh one term against another, and computing it costs a pass over each term's whole
 * posting list: 15 ms for a word in one message of six over 1,000,000 messages. Occurrences are
 * counted as substrings of the folded text, not tokens: tokenizing every candidate (the word
 * segmenter for Thai and CJK) cost more than the search itself. At least one, as it matched.
 */
export function relevance(text: string, terms: readonly QueryTerm[]): number {
  const hay = folded(text);
  let words = 0;
  for (LENGTH_WORD.lastIndex = 0; LENGTH_WORD.exec(hay) !== null;) words++;
  const norm = K1 * (1 - B + (B * words) / USUAL_WORDS);
  let score = 0;
  for (const term of terms) {
    const tf = Math.max(1, occurrences(hay, termText(term)));
    score += (tf * (K1 + 1)) / (tf + norm);
  }
  return score;
}

/** What ranking reads of a candidate message. */
export interface Candidate {
  text: string;
  created_at: number | string;
  pos: number | string;
}

/**
 * Candidates best first, for every store alike: relevance divided by the age factor, which
 * brings old messages towards 0; among equals the later message.
 */
export function rankCandidates<R extends Candidate>(
  rows: readonly R[],
  terms: readonly QueryTerm[],
  asOf: number,
): R[] {
  const scored = rows.map((r) => ({
    r,
    at: Number(r.created_at),
    pos: Number(r.pos),
    score: relevance(r.text, terms) / (1 + (asOf - Number(r.created_at)) / SEARCH_RECENCY_MS),
  }));
  scored.sort((a, b) => b.score - a.score || b.at - a.at || b.pos - a.pos);
  return scored.map((x) => x.r);
}
