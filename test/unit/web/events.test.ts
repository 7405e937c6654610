/**
 * The web app's rules for feed messages (content and events): what a window of content shows,
 * when a gap is detected, how history pages merge, and what a conversation's list entry says.
 */
import { describe, expect, it } from 'vitest';
import type { Conversation, Message } from '../../../packages/client/src/index.js';
import { applyToSpan, conversationAfter, mergePage } from '../../../packages/web/src/state/events.js';
import type { Span } from '../../../packages/web/src/state/events.js';

const C = 'c1';
function text(seq: number, body = `m${seq}`, senderId = 'bob', extra: Partial<Message> = {}): Message {
  return {
    id: `i${seq}`,
    conversationId: C,
    seq,
    pos: seq,
    senderId,
    clientId: `k${seq}`,
    kind: 'text',
    text: body,
    createdAt: seq * 1000,
    ...extra,
  };
}
function ev(seq: number, kind: Message['kind'], target: number, body = '', senderId = 'bob'): Message {
  return { ...text(seq, body, senderId), kind, target };
}
function run(span: Span, ...ms: Message[]): { span: Span; gaps: number } {
  let gaps = 0;
  for (const m of ms) {
    const r = applyToSpan(span, m);
    span = r.span;
    if (r.gap) gaps++;
  }
  return { span, gaps };
}

describe('applyToSpan', () => {
  it('folds events into their target and never shows them as messages', () => {
    const { span, gaps } = run(
      { messages: [], top: 0 },
      text(1, 'hello'),
      text(2, 'there'),
      ev(3, 'edit', 1, 'hello!'),
      ev(4, 'react', 2, '👍', 'ann'),
      ev(5, 'delete', 2),
    );
    expect(gaps).toBe(0);
    expect(span.top).toBe(5);
    expect(span.messages.map((m) => [m.seq, m.kind, m.text])).toEqual([
      [1, 'text', 'hello!'],
      [2, 'text', ''],
    ]);
    expect(span.messages[0]?.editedAt).toBe(3000);
    expect(span.messages[1]?.deleted).toBe(true);
    expect(span.messages[1]?.reactions).toBeUndefined();
  });

  it('removes a hidden message', () => {
    const { span } = run({ messages: [text(1), text(2)], top: 2 }, ev(3, 'hide', 1, '', 'me'));
    expect(span.messages.map((m) => m.seq)).toEqual([2]);
  });

  it('detects a gap from the highest seq seen, events included', () => {
    const a = run({ messages: [text(1)], top: 1 }, ev(2, 'react', 1, '👍'), text(3));
    expect(a.gaps).toBe(0);
    const b = run({ messages: [text(1)], top: 4 }, text(5));
    expect(b.gaps).toBe(0);
    const c = run({ messages: [text(1)], top: 1 }, text(3));
    expect(c.gaps).toBe(1);
    // Content after a gap waits for the history that fills it.
    expect(c.span.messages.map((m) => m.seq)).toEqual([1]);
    expect(c.span.top).toBe(1);
  });

  it('changes nothing when a message or event comes again', () => {
    const once = run(
      { messages: [], top: 0 },
      text(1),
      ev(2, 'react', 1, '👍', 'ann'),
      ev(3, 'unreact', 1, '👍', 'ann'),
    );
    const again = run(
      once.span,
      ev(2, 'react', 1, '👍', 'ann'),
      ev(3, 'unreact', 1, '👍', 'ann'),
      text(1, 'stale'),
    );
    expect(again.span).toEqual(once.span);
  });

  it('updates the quote of replies when the original is edited or deleted', () => {
    const reply = text(2, 'yes', 'ann', { replyTo: { seq: 1, senderId: 'bob', text: 'q?' } });
    const edited = run({ messages: [text(1, 'q?'), reply], top: 2 }, ev(3, 'edit', 1, 'question?'));
    expect(edited.span.messages[1]?.replyTo).toEqual({ seq: 1, senderId: 'bob', text: 'question?' });
    const deleted = run(edited.span, ev(4, 'delete', 1));
    expect(deleted.span.messages[1]?.replyTo).toEqual({ seq: 1, senderId: 'bob', text: '', deleted: true });
  });
});

describe('mergePage', () => {
  it('takes the page as current and applies what came meanwhile again', () => {
    const held = [text(1, 'old')];
    const page = [text(1, 'new', 'bob', { editedAt: 5 }), text(4)];
    const later = [ev(6, 'react', 4, '🎉', 'ann'), text(7)];
    const out = mergePage(held, page, later);
    expect(out.map((m) => [m.seq, m.text])).toEqual([
      [1, 'new'],
      [4, 'm4'],
      [7, 'm7'],
    ]);
    expect(out[1]?.reactions).toEqual([{ emoji: '🎉', count: 1, userIds: ['ann'] }]);
  });
});

describe('conversationAfter', () => {
  const base: Conversation = {
    id: C,
    kind: 'direct',
    name: 'Bob',
    createdAt: 0,
    lastActivityAt: 1000,
    lastSeq: 1,
    lastMessage: text(1, 'hi'),
    readSeq: 0,
    unread: 1,
  } as Conversation;

  it('counts content from others as unread and shows it', () => {
    const { conversation, counts } = conversationAfter(base, text(2, 'more'), 'me');
    expect(counts).toBe(true);
    expect(conversation.unread).toBe(2);
    expect(conversation.lastMessage?.text).toBe('more');
    expect(conversation.lastSeq).toBe(2);
  });

  it('never shows an event as the last message, nor counts it', () => {
    const { conversation, counts } = conversationAfter(base, ev(2, 'react', 1, '👍'), 'me');
    expect(counts).toBe(false);
    expect(conversation.unread).toBe(1);
    expect(conversation.lastMessage?.seq).toBe(1);
    expect(conversation.lastMessage?.kind).toBe('text');
    expect(conversation.lastSeq).toBe(2);
  });

  it('edits and deletes of the last message change the preview', () => {
    const edited = conversationAfter(base, ev(2, 'edit', 1, 'hello'), 'me').conversation;
    expect(edited.lastMessage?.text).toBe('hello');
    const deleted = conversationAfter(edited, ev(3, 'delete', 1), 'me').conversation;
    expect(deleted.lastMessage?.deleted).toBe(true);
    const other = conversationAfter(base, ev(2, 'edit', 0, 'x'), 'me').conversation;
    expect(other.lastMessage?.text).toBe('hi');
  });

  it('hiding the last message shows the one given instead', () => {
    const prev = text(0, 'before');
    const { conversation } = conversationAfter(base, ev(2, 'hide', 1, '', 'me'), 'me', prev);
    expect(conversation.lastMessage).toEqual(prev);
  });

  it('my own events move my read cursor', () => {
    const read = { ...base, readSeq: 1, unread: 0 };
    const { conversation } = conversationAfter(read, ev(2, 'react', 1, '👍', 'me'), 'me');
    expect(conversation.readSeq).toBe(2);
    expect(conversation.unread).toBe(0);
  });
});
