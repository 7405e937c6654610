/**
 * `@username` mentions in a message's text: one rule for the server (who is named) and the
 * apps (what to highlight).
 */

/** An `@` not preceded by a word character, then a username (trailing dots end a sentence, not the name). */
const MENTION = /(?<![\p{L}\p{N}_.])@([a-z0-9_.]{3,32})/giu;

export interface MentionToken {
  /** Where the `@` is, in UTF-16 units. */
  index: number;
  /** Length of `@` and the name, in UTF-16 units. */
  length: number;
  /** The name, lower-cased (usernames are). */
  username: string;
}

/** Every `@username` in a text, in order. */
export function findMentions(text: string): MentionToken[] {
  if (!text.includes('@')) return [];
  const out: MentionToken[] = [];
  for (const match of text.matchAll(MENTION)) {
    const name = (match[1] as string).replace(/\.+$/, '');
    out.push({ index: match.index, length: 1 + name.length, username: name.toLowerCase() });
  }
  return out;
}
