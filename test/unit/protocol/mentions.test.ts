/** `@username` tokens: what the server stores as mentions and what the apps highlight. */
import { describe, expect, it } from 'vitest';
import { findMentions } from '../../../packages/protocol/src/index.js';
import { mentionedIds } from '../../../packages/server/src/messages/mentions.js';

describe('findMentions', () => {
  it('finds names after an @ that does not follow a word character', () => {
    expect(findMentions('hi @ann_1 and @Bob.')).toEqual([
      { index: 3, length: 6, username: 'ann_1' },
      { index: 14, length: 4, username: 'bob' },
    ]);
    expect(findMentions('mail ann@example.com, or x@yz')).toEqual([]);
    expect(findMentions('no at sign')).toEqual([]);
    expect(findMentions('@ab is too short, (@abc) is not')).toEqual([
      { index: 19, length: 4, username: 'abc' },
    ]);
  });

  it('names the members mentioned, once each, never the sender', () => {
    const members = [
      { userId: 'u1', username: 'ann' },
      { userId: 'u2', username: 'bob' },
    ];
    expect(mentionedIds('@bob @ann @bob @carl', members, 'u1')).toEqual(['u2']);
    expect(mentionedIds('nobody', members, 'u1')).toEqual([]);
  });
});
