/**
 * Splitting a typed command into its words, so that a group name can hold spaces:
 * `/group "Weekend trip" bob carol`.
 */

/** Thrown for a line that cannot be split, e.g. an unclosed quote. */
export class CommandLineError extends Error {}

/**
 * The words of `line`, split on whitespace. Double or single quotes keep spaces inside one
 * word (`"Weekend trip"`) and join the text around them (`a"b c"` is `ab c`); a backslash
 * outside single quotes takes the next character as it is (`\"`, `\\`, `\ `). `""` is an empty word.
 * @throws CommandLineError for an unclosed quote.
 */
export function splitArgs(line: string): string[] {
  const words: string[] = [];
  let word = '';
  // A word exists once a character or a quote was seen, so that `""` gives an empty word.
  let inWord = false;
  let quote: '"' | "'" | null = null;
  const chars = Array.from(line);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < chars.length) word += chars[++i];
      else word += c;
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === '"' || c === "'") quote = c;
    else if (c === '\\' && i + 1 < chars.length) word += chars[++i];
    else word += c;
  }
  if (quote !== null) throw new CommandLineError(`unclosed ${quote}`);
  if (inWord) words.push(word);
  return words;
}
