/**
 * The markup grammar shared by the apps and the server: `plainText` is a message as one line of
 * a preview or a notification shows it, markers gone exactly where the apps format them (the
 * parse itself is covered case by case in test/unit/web/markup.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseMarkup, plainText } from '@parley/protocol';

describe('plainText', () => {
  it.each([
    ['*Meet* at _noon_', 'Meet at noon'],
    ['~old~ *new*.', 'old new.'],
    ['*_both_*', 'both'],
    // Markers that do not hug a word are text, as the apps show them.
    ['2*3*4', '2*3*4'],
    ['snake_case_name', 'snake_case_name'],
    ['so * not bold *', 'so * not bold *'],
    ['https://example.com/a_b_c', 'https://example.com/a_b_c'],
    // Code keeps its content, markers and all.
    ['run `*x*` now', 'run *x* now'],
    ['```\nconst a = *b*;\n```', 'const a = *b*;'],
    // Quotes drop "> "; list items keep their number, a bullet for the others.
    ['> quoted *line*', 'quoted line'],
    ['- one\n* two\n3. three', '• one\n• two\n3. three'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(plainText(input)).toBe(expected);
  });

  it('is the parse flattened: the same tree the apps render', () => {
    expect(parseMarkup('*Meet* at _noon_')).toEqual([
      {
        kind: 'para',
        children: [
          { kind: 'bold', children: [{ kind: 'text', text: 'Meet' }] },
          { kind: 'text', text: ' at ' },
          { kind: 'italic', children: [{ kind: 'text', text: 'noon' }] },
        ],
      },
    ]);
  });
});
