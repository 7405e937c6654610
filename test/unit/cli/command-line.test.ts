import { describe, expect, it } from 'vitest';
import { CommandLineError, splitArgs } from '@parley/server/dist/cli/command-line.js';

describe('splitArgs', () => {
  it('splits on whitespace', () => {
    expect(splitArgs('group  trip\tbob carol ')).toEqual(['group', 'trip', 'bob', 'carol']);
    expect(splitArgs('   ')).toEqual([]);
  });

  it('keeps spaces inside double or single quotes', () => {
    expect(splitArgs('group "Weekend trip" bob carol')).toEqual(['group', 'Weekend trip', 'bob', 'carol']);
    expect(splitArgs("group 'Ana''s  party' bob")).toEqual(['group', 'Anas  party', 'bob']);
    expect(splitArgs(`open "it's here"`)).toEqual(['open', "it's here"]);
  });

  it('joins quoted parts with the text around them, and gives an empty word for ""', () => {
    expect(splitArgs('a"b c"d')).toEqual(['ab cd']);
    expect(splitArgs('x "" y')).toEqual(['x', '', 'y']);
  });

  it('takes the character after a backslash as it is, except inside single quotes', () => {
    expect(splitArgs('say \\"hi\\" a\\ b')).toEqual(['say', '"hi"', 'a b']);
    expect(splitArgs('"a \\" b"')).toEqual(['a " b']);
    expect(splitArgs("'a\\b'")).toEqual(['a\\b']);
  });

  it('refuses an unclosed quote', () => {
    expect(() => splitArgs('group "Weekend trip bob')).toThrow(CommandLineError);
    expect(() => splitArgs("group 'x")).toThrow(/unclosed '/);
  });
});
