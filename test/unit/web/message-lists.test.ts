/** How feed messages keep a chat's pins and the Saved and Mentions views current. */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../packages/client/src/index.js';
import { listAfter, pinsAfter } from '../../../packages/web/src/state/message-lists.js';

function msg(seq: number, extra: Partial<Message> = {}): Message {
  return {
    id: `i${seq}`,
    conversationId: 'c1',
    seq,
    pos: seq,
    senderId: 'bob',
    clientId: `k${seq}`,
    kind: 'text',
    text: `m${seq}`,
    createdAt: seq * 1000,
    ...extra,
  };
}
function ev(seq: number, kind: Message['kind'], target: number, text = ''): Message {
  return { ...msg(seq, { text }), kind, target };
}

describe('pinsAfter', () => {
  const pins = [msg(3, { pinnedAt: 10 }), msg(1, { pinnedAt: 5 })];
  it('reloads on a pin, drops an unpinned or deleted message, applies edits', () => {
    expect(pinsAfter(pins, ev(9, 'pin', 2))).toBe('reload');
    expect(pinsAfter(pins, ev(9, 'unpin', 3))).toEqual([pins[1]]);
    expect(pinsAfter(pins, ev(9, 'delete', 1))).toEqual([pins[0]]);
    const edited = pinsAfter(pins, ev(9, 'edit', 3, 'new text'));
    expect(Array.isArray(edited) && edited[0]?.text).toBe('new text');
  });
  it('ignores content and events on other messages or chats', () => {
    expect(pinsAfter(pins, msg(9))).toBeNull();
    expect(pinsAfter(pins, ev(9, 'edit', 2, 'x'))).toBeNull();
    expect(pinsAfter(pins, { ...ev(9, 'unpin', 3), conversationId: 'c2' })).toBeNull();
  });
});

describe('listAfter', () => {
  it('saved: reloads on a save, drops an unsaved message', () => {
    const saved = [msg(4, { saved: true })];
    expect(listAfter('saved', saved, ev(9, 'save', 2), 'me')).toBe('reload');
    expect(listAfter('saved', saved, ev(9, 'unsave', 4), 'me')).toEqual([]);
    expect(listAfter('saved', saved, msg(9, { mentions: ['me'] }), 'me')).toBeNull();
  });
  it('mentions: reloads on a message that mentions me, applies events', () => {
    const listed = [msg(4, { mentions: ['me'] })];
    expect(listAfter('mentions', listed, msg(9, { mentions: ['me'] }), 'me')).toBe('reload');
    expect(listAfter('mentions', listed, msg(9, { mentions: ['ann'] }), 'me')).toBeNull();
    const deleted = listAfter('mentions', listed, ev(9, 'delete', 4), 'me');
    expect(Array.isArray(deleted) && deleted[0]?.deleted).toBe(true);
  });
  it('mentions: follows an edit that names me anew or no longer', () => {
    const listed = [msg(4, { mentions: ['me'] })];
    const naming = (seq: number, target: number, mentions?: string[]) => ({
      ...ev(seq, 'edit', target, 'new text'),
      ...(mentions ? { mentions } : {}),
    });
    expect(listAfter('mentions', listed, naming(9, 2, ['me']), 'me')).toBe('reload');
    expect(listAfter('mentions', listed, naming(9, 2, ['ann']), 'me')).toBeNull();
    const still = listAfter('mentions', listed, naming(9, 4, ['ann', 'me']), 'me');
    expect(Array.isArray(still) && still.map((x) => [x.seq, x.text])).toEqual([[4, 'new text']]);
    expect(listAfter('mentions', listed, naming(9, 4, ['ann']), 'me')).toEqual([]);
    expect(listAfter('mentions', listed, naming(9, 4), 'me')).toEqual([]);
    expect(listAfter('mentions', listed, { ...naming(9, 4), conversationId: 'c2' }, 'me')).toBeNull();
  });
});
