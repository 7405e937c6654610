/**
 * Message markup as WhatsApp has it: *bold*, _italic_, ~strike~, `code`, ```code blocks```,
 * "> " quotes and "- ", "* ", "1. " lists. The server stores text verbatim; this parses it
 * into a small tree that apps render as elements and text nodes, never as HTML, and that
 * `plainText` flattens for previews and notifications (the server's push text).
 *
 * A marker counts only where it hugs its text: an opening one follows the start, a space or
 * punctuation and comes before a non-space; a closing one follows a non-space and comes
 * before the end, a space or punctuation, and a run of one marker ("__") neither opens nor
 * closes. So "2*3*4" and "* not bold *" stay as typed.
 * Inline markup stays within its line; nothing inside code is formatted, and web addresses
 * are found first, so an "_" in a URL never starts italics.
 */
import { splitLinks } from './links.js';

export type MarkupInline =
  | { kind: 'text'; text: string }
  | { kind: 'link'; text: string; href: string }
  | { kind: 'code'; text: string }
  | { kind: 'bold' | 'italic' | 'strike'; children: MarkupInline[] };

export interface MarkupListItem {
  /** The number typed before an item of an ordered list. */
  number?: number;
  children: MarkupInline[];
}

export type MarkupBlock =
  | { kind: 'para'; children: MarkupInline[] }
  | { kind: 'quote'; children: MarkupInline[] }
  | { kind: 'list'; ordered: boolean; items: MarkupListItem[] }
  | { kind: 'pre'; text: string };

const FENCE = '```';
const MARKERS = { '*': 'bold', _: 'italic', '~': 'strike' } as const;
type Marker = keyof typeof MARKERS;

const WORD = /[\p{L}\p{N}]/u;
const SPACE = /\s/;
const BULLET = /^[-*] /;
const NUMBERED = /^(\d{1,9})\. /;

function isMarker(c: string): c is Marker {
  return c === '*' || c === '_' || c === '~';
}

/** The whole text as blocks: fenced code that spans lines, and runs of lines around it. */
export function parseMarkup(text: string): MarkupBlock[] {
  const blocks: MarkupBlock[] = [];
  let from = 0;
  let search = 0;
  for (;;) {
    const open = text.indexOf(FENCE, search);
    if (open < 0) break;
    const close = text.indexOf(FENCE, open + FENCE.length);
    if (close < 0) break;
    let body = text.slice(open + FENCE.length, close);
    // A fence on one line is inline code, left to the line's own parsing.
    if (!body.includes('\n')) {
      search = close + FENCE.length;
      continue;
    }
    // The line breaks right inside the fences only lay it out ("```\ncode\n```").
    if (body.startsWith('\n')) body = body.slice(1);
    if (body.endsWith('\n')) body = body.slice(0, -1);
    let before = text.slice(from, open);
    if (before.endsWith('\n')) before = before.slice(0, -1);
    if (before !== '') lineBlocks(before, blocks);
    blocks.push({ kind: 'pre', text: body });
    from = close + FENCE.length;
    if (text[from] === '\n') from++;
    search = from;
  }
  const rest = text.slice(from);
  if (rest !== '' || blocks.length === 0) lineBlocks(rest, blocks);
  return blocks;
}

/** Lines grouped into paragraphs, quotes and lists, added to `blocks`. */
function lineBlocks(text: string, blocks: MarkupBlock[]): void {
  let para: string[] | null = null;
  let quote: string[] | null = null;
  let list: Extract<MarkupBlock, { kind: 'list' }> | null = null;
  const flush = () => {
    if (para !== null) blocks.push({ kind: 'para', children: parseLines(para) });
    if (quote !== null) blocks.push({ kind: 'quote', children: parseLines(quote) });
    if (list !== null) blocks.push(list);
    para = quote = list = null;
  };
  for (const line of text.split('\n')) {
    const numbered = NUMBERED.exec(line);
    if (line.startsWith('> ')) {
      if (quote === null) flush();
      (quote ??= []).push(line.slice(2));
    } else if (numbered !== null || BULLET.test(line)) {
      const ordered = numbered !== null;
      if (list === null || list.ordered !== ordered) {
        flush();
        list = { kind: 'list', ordered, items: [] };
      }
      const item: MarkupListItem = ordered
        ? { number: Number(numbered[1]), children: parseInline(line.slice(numbered[0].length)) }
        : { children: parseInline(line.slice(2)) };
      list.items.push(item);
    } else {
      if (para === null) flush();
      (para ??= []).push(line);
    }
  }
  flush();
}

/** Lines parsed one by one, kept apart by line breaks. */
function parseLines(lines: string[]): MarkupInline[] {
  const out: MarkupInline[] = [];
  lines.forEach((line, i) => {
    if (i > 0) pushText(out, '\n');
    for (const node of parseInline(line)) {
      if (node.kind === 'text') pushText(out, node.text);
      else out.push(node);
    }
  });
  return out;
}

function pushText(out: MarkupInline[], text: string): void {
  if (text === '') return;
  const last = out[out.length - 1];
  if (last?.kind === 'text') last.text += text;
  else out.push({ kind: 'text', text });
}

/** One character of text, or a code span or link that markers do not look into. */
type Atom = string | Extract<MarkupInline, { kind: 'code' | 'link' }>;

const isWordAtom = (a: Atom | undefined) => a !== undefined && (typeof a !== 'string' || WORD.test(a));
const isSpaceAtom = (a: Atom | undefined) => typeof a === 'string' && SPACE.test(a);

/** One line's inline markup. */
export function parseInline(line: string): MarkupInline[] {
  const atoms: Atom[] = [];
  for (const part of codeSpans(line)) {
    if (typeof part !== 'string') atoms.push(part);
    else
      for (const p of splitLinks(part)) {
        if (p.href !== undefined) atoms.push({ kind: 'link', text: p.text, href: p.href });
        else for (const ch of p.text) atoms.push(ch);
      }
  }
  // Where each marker may close, in order: a closer's validity depends on its neighbours only.
  const closers: Record<Marker, number[]> = { '*': [], _: [], '~': [] };
  atoms.forEach((a, j) => {
    if (
      typeof a === 'string' &&
      isMarker(a) &&
      j > 0 &&
      !isSpaceAtom(atoms[j - 1]) &&
      !isWordAtom(atoms[j + 1]) &&
      atoms[j + 1] !== a
    )
      closers[a].push(j);
  });
  return emphasis(atoms, closers, 0, atoms.length);
}

function emphasis(
  atoms: Atom[],
  closers: Record<Marker, number[]>,
  start: number,
  end: number,
): MarkupInline[] {
  const out: MarkupInline[] = [];
  let buf = '';
  const flush = () => {
    if (buf !== '') out.push({ kind: 'text', text: buf });
    buf = '';
  };
  for (let i = start; i < end; i++) {
    const a = atoms[i] as Atom;
    if (typeof a !== 'string') {
      flush();
      out.push(a);
      continue;
    }
    if (
      isMarker(a) &&
      !isWordAtom(atoms[i - 1]) &&
      atoms[i - 1] !== a &&
      i + 1 < end &&
      !isSpaceAtom(atoms[i + 1])
    ) {
      const close = firstAtLeast(closers[a], i + 2);
      if (close !== undefined && close < end) {
        flush();
        out.push({ kind: MARKERS[a], children: emphasis(atoms, closers, i + 1, close) });
        i = close;
        continue;
      }
    }
    buf += a;
  }
  flush();
  return out;
}

/** The first number in sorted `xs` that is at least `min`. */
function firstAtLeast(xs: number[], min: number): number | undefined {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((xs[mid] as number) < min) lo = mid + 1;
    else hi = mid;
  }
  return xs[lo];
}

/** A line split into code spans (```x``` or `x`) and the text between them. */
function codeSpans(line: string): Array<string | Extract<MarkupInline, { kind: 'code' }>> {
  if (!line.includes('`')) return [line];
  const closers: number[] = [];
  for (let j = 1; j < line.length; j++) {
    if (line[j] === '`' && !SPACE.test(line[j - 1] as string) && !WORD.test(line[j + 1] ?? ' '))
      closers.push(j);
  }
  const out: Array<string | Extract<MarkupInline, { kind: 'code' }>> = [];
  let buf = '';
  for (let i = 0; i < line.length; i++) {
    if (line.startsWith(FENCE, i)) {
      const close = line.indexOf(FENCE, i + FENCE.length);
      if (close > i + FENCE.length) {
        if (buf !== '') out.push(buf);
        buf = '';
        out.push({ kind: 'code', text: line.slice(i + FENCE.length, close) });
        i = close + FENCE.length - 1;
      } else {
        buf += FENCE;
        i += FENCE.length - 1;
      }
      continue;
    }
    const c = line[i] as string;
    if (c === '`' && (i === 0 || !WORD.test(line[i - 1] as string)) && !SPACE.test(line[i + 1] ?? ' ')) {
      const close = firstAtLeast(closers, i + 2);
      if (close !== undefined) {
        if (buf !== '') out.push(buf);
        buf = '';
        out.push({ kind: 'code', text: line.slice(i + 1, close) });
        i = close;
        continue;
      }
    }
    buf += c;
  }
  if (buf !== '') out.push(buf);
  return out;
}

/** The text of inline nodes without their markers. */
export function inlineText(nodes: MarkupInline[]): string {
  let s = '';
  for (const n of nodes)
    s += n.kind === 'text' || n.kind === 'link' || n.kind === 'code' ? n.text : inlineText(n.children);
  return s;
}

/** Blocks as plain text: markers dropped, list items keep a bullet or their number. */
export function blocksText(blocks: MarkupBlock[]): string {
  return blocks
    .map((b) => {
      switch (b.kind) {
        case 'para':
        case 'quote':
          return inlineText(b.children);
        case 'pre':
          return b.text;
        case 'list':
          return b.items
            .map((it) => `${it.number === undefined ? '•' : `${it.number}.`} ${inlineText(it.children)}`)
            .join('\n');
        default: {
          const never: never = b;
          return never;
        }
      }
    })
    .join('\n');
}

/** A message's text without markup, for previews and notifications. */
export function plainText(text: string): string {
  return blocksText(parseMarkup(text));
}
