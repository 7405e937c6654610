import type { Attachment } from '@parley/client';
import { escapeLine } from './terminal-text.js';

/**
 * The commands of `parley chat`, in one list: the client's `/help` and `parley help` both
 * print it, and the client must handle each name in it (a `Record` over the names).
 */
export const CHAT_COMMANDS = [
  { name: 'list', args: '', about: 'your conversations, latest first, with unread counts' },
  { name: 'open', args: '<n|username|name>', about: 'open a conversation from /list, or a 1:1 with a user' },
  { name: 'dm', args: '<username>', about: 'start (or open) a 1:1' },
  {
    name: 'group',
    args: '<name> <user>...',
    about: 'create a group and open it: /group "Weekend trip" bob carol',
  },
  { name: 'add', args: '<user>...', about: 'add members to the open group (admins)' },
  { name: 'members', args: '', about: 'members of the open conversation' },
  { name: 'leave', args: '', about: 'leave the open group' },
  { name: 'history', args: '[n]', about: 'show n older messages (default 20)' },
  {
    name: 'read',
    args: '',
    about: 'mark the open conversation read: senders see read ticks (only this does)',
  },
  { name: 'reply', args: '<seq> <text>', about: 'answer message #seq of the open conversation' },
  {
    name: 'attach',
    args: '<path> [caption]',
    about: 'send a file (a photo, a voice note, any file), with a caption if given',
  },
  { name: 'edit', args: '<seq> <text>', about: 'change the text of your message #seq' },
  { name: 'delete', args: '<seq>', about: 'delete message #seq for everyone (yours; any as group admin)' },
  { name: 'react', args: '<seq> <emoji>', about: 'react to message #seq (again to take it back)' },
  { name: 'contacts', args: '', about: 'your contacts, pending requests and blocked users' },
  { name: 'block', args: '<username>', about: 'block a user' },
  { name: 'unblock', args: '<username>', about: 'unblock a user' },
  { name: 'help', args: '', about: 'this list' },
  { name: 'quit', args: '', about: 'exit (or Ctrl-D)' },
] as const;

export type ChatCommandName = (typeof CHAT_COMMANDS)[number]['name'];

/** One line per command, then how to send. */
export function chatHelp(indent = '  '): string {
  const lines = CHAT_COMMANDS.map((c) => `${indent}${`/${c.name} ${c.args}`.padEnd(26)}${c.about}`);
  return [...lines, `${indent}Anything else is sent to the open conversation.`].join('\n');
}

/** `/attach <path> [caption]`: the path (quote it when it has spaces) and the caption, maybe empty. */
export function parseAttach(args: readonly string[]): { path: string; caption: string } | null {
  const [path, ...words] = args;
  if (path === undefined || path === '') return null;
  return { path, caption: words.join(' ').trim() };
}

/** "12 B", "340 KB", "1.2 MB" (decimal units). */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${Math.round(bytes / 1000)} KB`;
  if (bytes < 1_000_000_000) return `${(bytes / 1_000_000).toFixed(1)} MB`;
  return `${(bytes / 1_000_000_000).toFixed(1)} GB`;
}

const KIND_WORD = { image: 'photo', video: 'video', audio: 'voice', file: 'file' } as const;

/** An attachment on one line: `[photo beach.jpg 1.2 MB]`, `[voice note.webm 14 KB 0:07]`; the name escaped. */
export function attachmentLine(a: Pick<Attachment, 'kind' | 'name' | 'size' | 'durationMs'>): string {
  const word = KIND_WORD[a.kind] ?? 'file';
  let duration = '';
  if (a.durationMs !== undefined && (a.kind === 'audio' || a.kind === 'video')) {
    const s = Math.round(a.durationMs / 1000);
    duration = ` ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }
  return `[${word} ${escapeLine(a.name)} ${formatSize(a.size)}${duration}]`;
}
