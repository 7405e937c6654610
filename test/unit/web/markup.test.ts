/**
 * The web app's message markup parser (WhatsApp rules): a table of inputs and the tree they
 * give, written compactly as tags, then properties over generated text: parsing never
 * throws, only marker characters are ever dropped, text without markers is left whole, and
 * words wrapped in markers come out formatted with exactly their text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blocksText, isEmojiOnly, parseMarkup, plainText } from '../../../packages/web/src/lib/markup.js';
import type { Block, Inline } from '../../../packages/web/src/lib/markup.js';

const TAGS = { bold: 'b', italic: 'i', strike: 's' } as const;

function showInline(nodes: Inline[]): string {
  return nodes
    .map((n) => {
      switch (n.kind) {
        case 'text':
          return n.text;
        case 'code':
          return `<code>${n.text}</code>`;
        case 'link':
          return `<a ${n.href}>${n.text}</a>`;
        default:
          return `<${TAGS[n.kind]}>${showInline(n.children)}</${TAGS[n.kind]}>`;
      }
    })
    .join('');
}

/** Blocks as tags, one block after another, split by "|". */
function show(blocks: Block[]): string {
  return blocks
    .map((b) => {
      switch (b.kind) {
        case 'para':
          return showInline(b.children);
        case 'quote':
          return `<q>${showInline(b.children)}</q>`;
        case 'pre':
          return `<pre>${b.text}</pre>`;
        case 'list': {
          const items = b.items.map(
            (it) => `<li${it.number === undefined ? '' : ` ${it.number}`}>${showInline(it.children)}</li>`,
          );
          return b.ordered ? `<ol>${items.join('')}</ol>` : `<ul>${items.join('')}</ul>`;
        }
      }
    })
    .join('|');
}

const CASES: Array<[string, string]> = [
  // Plain text stays whole.
  ['hello', 'hello'],
  ['', ''],
  ['two\nlines', 'two\nlines'],
  // Each marker.
  ['*bold*', '<b>bold</b>'],
  ['_italic_', '<i>italic</i>'],
  ['~strike~', '<s>strike</s>'],
  ['`code`', '<code>code</code>'],
  ['a *bold* word', 'a <b>bold</b> word'],
  ['*two words*', '<b>two words</b>'],
  // Markers must hug the text.
  ['* not bold *', '<ul><li>not bold *</li></ul>'],
  ['a * not bold * b', 'a * not bold * b'],
  ['*not bold *', '*not bold *'],
  ['* not bold*', '<ul><li>not bold*</li></ul>'],
  ['x * y*', 'x * y*'],
  // Not in the middle of a word.
  ['2*3*4', '2*3*4'],
  ['snake_case_name', 'snake_case_name'],
  ['a~b~c', 'a~b~c'],
  ['*bold*er', '*bold*er'],
  ['un*bold*', 'un*bold*'],
  // Punctuation around markers is fine.
  ['(*bold*)', '(<b>bold</b>)'],
  ['"_quoted_".', '"<i>quoted</i>".'],
  ['*bold*!', '<b>bold</b>!'],
  // Empty or unclosed markers stay as typed.
  ['**', '**'],
  ['* *', '<ul><li>*</li></ul>'],
  ['a * * b', 'a * * b'],
  ['*open', '*open'],
  ['close*', 'close*'],
  ['_a', '_a'],
  // Nesting of different markers, and the first closer wins.
  ['*_both_*', '<b><i>both</i></b>'],
  ['_*both*_', '<i><b>both</b></i>'],
  ['*bold _and italic_*', '<b>bold <i>and italic</i></b>'],
  ['~*a* b~', '<s><b>a</b> b</s>'],
  ['*a *b* c*', '<b>a *b</b> c*'],
  ['*a* *b*', '<b>a</b> <b>b</b>'],
  ['**bold**', '<b>*bold*</b>'],
  ['_a.__b_', '<i>a.__b</i>'],
  ['_<script>window.__x=1</script>_', '<i><script>window.__x=1</script></i>'],
  // Within one line only.
  ['*not\nbold*', '*not\nbold*'],
  ['*one*\n*two*', '<b>one</b>\n<b>two</b>'],
  // Nothing is formatted inside code.
  ['`*not bold*`', '<code>*not bold*</code>'],
  ['`a_b_c`', '<code>a_b_c</code>'],
  ['*bold `code` bold*', '<b>bold <code>code</code> bold</b>'],
  ['```inline *code*```', '<code>inline *code*</code>'],
  ['run ```npm test``` now', 'run <code>npm test</code> now'],
  ['```\nline *1*\nline _2_\n```', '<pre>line *1*\nline _2_</pre>'],
  ['before\n```\ncode\n```\nafter', 'before|<pre>code</pre>|after'],
  ['```a\nb```', '<pre>a\nb</pre>'],
  ['```\n- not a list\n> nor a quote\n```', '<pre>- not a list\n> nor a quote</pre>'],
  ['```unclosed\ncode', '```unclosed\ncode'],
  ['` not code`', '` not code`'],
  ['2`3`4', '2`3`4'],
  ['``', '``'],
  // Links stay links and markers in them are left alone.
  ['see https://example.com/a_b_c', 'see <a https://example.com/a_b_c>https://example.com/a_b_c</a>'],
  ['_https://example.com/x_y_', '<i><a https://example.com/x_y>https://example.com/x_y</a></i>'],
  ['*www.example.com*', '<b><a https://www.example.com/>www.example.com</a></b>'],
  ['_see https://a.com/a_b here_', '<i>see <a https://a.com/a_b>https://a.com/a_b</a> here</i>'],
  ['`https://example.com`', '<code>https://example.com</code>'],
  [
    'https://en.wikipedia.org/wiki/Foo_(bar)',
    '<a https://en.wikipedia.org/wiki/Foo_(bar)>https://en.wikipedia.org/wiki/Foo_(bar)</a>',
  ],
  // Quotes.
  ['> quoted', '<q>quoted</q>'],
  ['> one\n> two\nreply', '<q>one\ntwo</q>|reply'],
  ['> *bold* in a quote', '<q><b>bold</b> in a quote</q>'],
  ['>no space', '>no space'],
  ['a > b', 'a > b'],
  // Lists.
  ['- one\n- two', '<ul><li>one</li><li>two</li></ul>'],
  ['* one\n* two', '<ul><li>one</li><li>two</li></ul>'],
  ['1. one\n2. two', '<ol><li 1>one</li><li 2>two</li></ol>'],
  ['3. three\n7. seven', '<ol><li 3>three</li><li 7>seven</li></ol>'],
  ['list:\n- _a_\n- b\ndone', 'list:|<ul><li><i>a</i></li><li>b</li></ul>|done'],
  ['- a\n1. b', '<ul><li>a</li></ul>|<ol><li 1>b</li></ol>'],
  ['-not a list', '-not a list'],
  ['1.not a list', '1.not a list'],
  ['*bold* start', '<b>bold</b> start'],
  // Markup in text that looks like HTML is text.
  ['*<img src=x onerror=alert(1)>*', '<b><img src=x onerror=alert(1)></b>'],
];

describe('parseMarkup', () => {
  it.each(CASES)('%j', (input, expected) => {
    expect(show(parseMarkup(input))).toBe(expected);
  });
});

describe('plainText', () => {
  it.each([
    ['*bold* and _italic_ and ~gone~', 'bold and italic and gone'],
    ['> quoted\n- item\n2. second', 'quoted\n• item\n2. second'],
    ['```\ncode *x*\n```', 'code *x*'],
    ['2*3*4 https://a.com/a_b_', '2*3*4 https://a.com/a_b_'],
  ])('%j', (input, expected) => {
    expect(plainText(input)).toBe(expected);
  });
});

describe('isEmojiOnly', () => {
  it.each([
    ['😀', true],
    ['😀😀😀', true],
    [' 👍🏽 ❤️ ', true],
    ['👨‍👩‍👧‍👦', true],
    ['🇳🇱', true],
    ['1️⃣', true],
    ['😀😀😀😀', false],
    ['😀 hi', false],
    ['', false],
    ['   ', false],
    ['1', false],
    ['©', false],
    ['*😀*', false],
  ])('%j → %s', (input, expected) => {
    expect(isEmojiOnly(input)).toBe(expected);
  });
});

/** All the text a tree shows, with nothing between blocks. */
function shown(blocks: Block[]): string {
  const inline = (nodes: Inline[]): string =>
    nodes.map((n) => ('children' in n ? inline(n.children) : n.text)).join('');
  return blocks
    .map((b) => {
      if (b.kind === 'pre') return b.text;
      if (b.kind === 'list') return b.items.map((it) => inline(it.children)).join('');
      return inline(b.children);
    })
    .join('');
}

/** Characters markup may drop: markers, list numbers and the spaces and line breaks they take. */
const DROPPABLE = new Set([...'*_~`>-. \n0123456789']);

/** Whether `shown` is `input` with only droppable characters left out. */
function onlyMarkersDropped(input: string, shownText: string): boolean {
  let j = 0;
  for (const ch of input) {
    if (j < shownText.length && shownText.startsWith(ch, j)) j += ch.length;
    else if (!DROPPABLE.has(ch)) return false;
  }
  return j === shownText.length;
}

const markupish = fc.string({
  unit: fc.constantFrom(...'*_~`> -.1\n\taé😀<>h/:w', 'https://a.com/x_y', '```', '- ', '> ', '1. '),
  maxLength: 60,
});

describe('markup properties', () => {
  it('never throws, and drops nothing but markers', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 80 }), markupish), (input) => {
        const blocks = parseMarkup(input);
        expect(onlyMarkersDropped(input, shown(blocks)), JSON.stringify([input, shown(blocks)])).toBe(true);
        expect(typeof blocksText(blocks)).toBe('string');
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves text without markers whole', () => {
    const plain = fc.string({ unit: fc.constantFrom(...'abc xyz\n.,!?é😀<"&'), maxLength: 80 });
    fc.assert(
      fc.property(plain, (input) => {
        expect(show(parseMarkup(input))).toBe(input);
        expect(plainText(input)).toBe(input);
      }),
    );
  });

  it('formats words wrapped in markers, with exactly their text', () => {
    const word = fc.string({ unit: fc.constantFrom(...'abcdefgh'), minLength: 1, maxLength: 8 });
    const piece = fc.tuple(fc.constantFrom('', '*', '_', '~', '`'), word);
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 8 }), (pieces) => {
        const input = pieces.map(([m, w]) => `${m}${w}${m}`).join(' ');
        const expected = pieces
          .map(([m, w]) =>
            m === ''
              ? w
              : m === '`'
                ? `<code>${w}</code>`
                : `<${TAGS[m === '*' ? 'bold' : m === '_' ? 'italic' : 'strike']}>${w}</${TAGS[m === '*' ? 'bold' : m === '_' ? 'italic' : 'strike']}>`,
          )
          .join(' ');
        expect(show(parseMarkup(input))).toBe(expected);
        expect(plainText(input)).toBe(pieces.map(([, w]) => w).join(' '));
      }),
    );
  });

  it('parses a long line of unclosed markers without searching it again for each', () => {
    const input = '*a _b ~c '.repeat(20_000);
    const blocks = parseMarkup(input);
    expect(shown(blocks)).toBe(input);
  });

  it('parses many short blocks', () => {
    const input = '> q\np\n'.repeat(60_000);
    expect(parseMarkup(input)).toHaveLength(120_000);
  });
});
