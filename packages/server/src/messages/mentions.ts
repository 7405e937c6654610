/** `@username` mentions: which members a message's text names. */

/** An `@` not preceded by a word character, then a username (trailing dots end a sentence, not the name). */
const MENTION = /(?<![\p{L}\p{N}_.])@([a-z0-9_.]{3,32})/giu;

/** Ids of the members whose username the text mentions, each once, in order; the sender never. */
export function mentionedIds(
  text: string,
  members: readonly { userId: string; username: string }[],
  senderId: string,
): string[] {
  if (!text.includes('@')) return [];
  const byName = new Map(members.map((m) => [m.username, m.userId]));
  const out = new Set<string>();
  for (const match of text.matchAll(MENTION)) {
    const name = (match[1] as string).toLowerCase().replace(/\.+$/, '');
    const id = byName.get(name);
    if (id !== undefined && id !== senderId) out.add(id);
  }
  return [...out];
}
