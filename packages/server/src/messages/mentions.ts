/** `@username` mentions: which members a message's text names. */
import { findMentions } from '@parley/protocol';

/** Ids of the members whose username the text mentions, each once, in order; the sender never. */
export function mentionedIds(
  text: string,
  members: readonly { userId: string; username: string }[],
  senderId: string,
): string[] {
  const found = findMentions(text);
  if (found.length === 0) return [];
  const byName = new Map(members.map((m) => [m.username, m.userId]));
  const out = new Set<string>();
  for (const { username } of found) {
    const id = byName.get(username);
    if (id !== undefined && id !== senderId) out.add(id);
  }
  return [...out];
}
