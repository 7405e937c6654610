import { describe, expect, it } from 'vitest';
import { applyEvent } from '@parley/client';
import type { Message, MessageKind } from '@parley/client';

let pos = 0;
function msg(seq: number, kind: MessageKind, extra: Partial<Message> = {}): Message {
  return {
    id: `m${seq}`,
    conversationId: 'c',
    seq,
    pos: ++pos,
    senderId: 'a',
    clientId: `k${seq}`,
    kind,
    text: '',
    createdAt: 1000 + seq,
    ...extra,
  };
}

describe('applyEvent', () => {
  it('folds edits, reactions, pins and deletes into the target, each event idempotent', () => {
    let list = [msg(1, 'text', { text: 'helo' }), msg(2, 'text', { text: 'two' })];
    const events = [
      msg(3, 'edit', { target: 1, text: 'hello' }),
      msg(4, 'react', { target: 1, text: '👍', senderId: 'b' }),
      msg(5, 'react', { target: 1, text: '👍', senderId: 'a' }),
      msg(6, 'unreact', { target: 1, text: '👍', senderId: 'b' }),
      msg(7, 'pin', { target: 2 }),
    ];
    for (const e of [...events, ...events]) list = applyEvent(list, e);
    expect(list[0]).toMatchObject({
      text: 'hello',
      editedAt: 1003,
      reactions: [{ emoji: '👍', count: 1, userIds: ['a'] }],
    });
    expect(list[1]?.pinnedAt).toBe(1007);
    list = applyEvent(list, msg(8, 'delete', { target: 1 }));
    expect(list[0]).toMatchObject({ text: '', deleted: true });
    expect(list[0]?.reactions).toBeUndefined();
    // Nothing changes a tombstone but unsave.
    list = applyEvent(list, msg(9, 'edit', { target: 1, text: 'back' }));
    expect(list[0]?.text).toBe('');
  });

  it('removes a hidden message, adds content once in seq order, and ignores unknown targets', () => {
    let list = [msg(1, 'text'), msg(3, 'text')];
    list = applyEvent(list, msg(2, 'text'));
    list = applyEvent(list, msg(2, 'text'));
    expect(list.map((m) => m.seq)).toEqual([1, 2, 3]);
    list = applyEvent(list, msg(4, 'hide', { target: 2 }));
    expect(list.map((m) => m.seq)).toEqual([1, 3]);
    expect(applyEvent(list, msg(5, 'edit', { target: 99, text: 'x' }))).toEqual(list);
    list = applyEvent(list, msg(6, 'save', { target: 3 }));
    expect(list[1]?.saved).toBe(true);
  });

  it('takes the mentions of an edit in place of the original ones', () => {
    let list = [msg(1, 'text', { text: '@bo hi', mentions: ['u_bo'] })];
    list = applyEvent(list, msg(2, 'edit', { target: 1, text: '@cy hi', mentions: ['u_cy'] }));
    expect(list[0]).toMatchObject({ text: '@cy hi', mentions: ['u_cy'] });
    list = applyEvent(list, msg(3, 'edit', { target: 1, text: 'hi' }));
    expect(list[0]?.text).toBe('hi');
    expect(list[0]?.mentions).toBeUndefined();
  });
});
