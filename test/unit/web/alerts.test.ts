/**
 * Which unread messages count for the web app's title and badge, and which may alert: muted
 * conversations count only mentions of me, and none when the mute covers mentions too.
 */
import { describe, expect, it } from 'vitest';
import type { Conversation } from '@parley/protocol';
import { alertCount, silenced } from '../../../packages/web/src/lib/alerts.js';

const NOW = 1_000_000;

const conv = (id: string, unread: number, mute: Partial<Conversation> = {}): Conversation => ({
  id,
  kind: 'group',
  name: id,
  createdAt: 0,
  lastActivityAt: 0,
  lastSeq: unread,
  lastMessage: null,
  unread,
  readSeq: 0,
  memberCount: 3,
  role: 'member',
  ...mute,
});

describe('alertCount', () => {
  it('counts a chat muted with its mentions as nothing, and mentions in a plainly muted one', () => {
    const mentions = (): number => 2;
    const list = [
      conv('open', 5),
      conv('muted', 4, { mutedUntil: null }),
      conv('all', 4, { mutedUntil: null, mutedMentions: true }),
    ];
    expect(alertCount(list, mentions, NOW)).toBe(5 + 2);
    // A mute that ended counts everything again, whatever it covered.
    expect(alertCount([conv('ended', 4, { mutedUntil: NOW - 1, mutedMentions: true })], mentions, NOW)).toBe(
      4,
    );
  });
});

describe('silenced', () => {
  it('lets a mention through a plain mute, nothing through a mute of mentions', () => {
    const muted = conv('m', 1, { mutedUntil: null });
    const all = conv('a', 1, { mutedUntil: NOW + 1, mutedMentions: true });
    expect(silenced(conv('o', 1), false, NOW)).toBe(false);
    expect(silenced(muted, false, NOW)).toBe(true);
    expect(silenced(muted, true, NOW)).toBe(false);
    expect(silenced(all, true, NOW)).toBe(true);
    expect(silenced(all, true, NOW + 1)).toBe(false);
  });
});
