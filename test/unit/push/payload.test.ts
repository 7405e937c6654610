/** What a notification says: collapse keys, previews, hidden text, counts, Retry-After. */
import { describe, expect, it } from 'vitest';
import {
  buildPayload,
  collapseKey,
  notificationText,
  parseRetryAfter,
  preview,
  previewText,
  resultForStatus,
} from '@parley/server';

const base = {
  conversationId: 'c_aXUxid-fRUqfRVTl',
  conversationName: 'Trip',
  kind: 'group' as const,
  messageId: '01J0000000000000000000000',
  seq: 7,
  senderId: 'u_ana',
  senderName: 'Ana',
  text: 'See you at the station',
  createdAt: 1_700_000_000_000,
  readSeq: 6,
  showText: true,
};

describe('push payloads', () => {
  it('give every message of a conversation one collapse key, a valid RFC 8030 Topic', () => {
    const k = collapseKey('c_aXUxid-fRUqfRVTl');
    expect(k).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(collapseKey('c_aXUxid-fRUqfRVTl')).toBe(k);
    expect(collapseKey('c_other')).not.toBe(k);
    expect(buildPayload(base).tag).toBe(k);
  });

  it('cut the preview at 200 code points, never inside a surrogate pair', () => {
    const long = '😀'.repeat(300);
    const p = preview(long);
    expect(Array.from(p)).toHaveLength(200);
    expect(p.endsWith('…')).toBe(true);
    expect(p).not.toMatch(/[\uD800-\uDBFF]…$/);
    expect(preview('  a \n\n b  ')).toBe('a b');
  });

  it('say who wrote and what, or only who when the text is hidden', () => {
    expect(notificationText(buildPayload(base))).toEqual({
      title: 'Trip',
      body: 'Ana: See you at the station',
    });
    const direct = buildPayload({ ...base, kind: 'direct', conversationName: 'Ana' });
    expect(notificationText(direct)).toEqual({ title: 'Ana', body: 'See you at the station' });
    const hidden = buildPayload({ ...base, kind: 'direct', showText: false });
    expect(hidden.text).toBeUndefined();
    expect(JSON.stringify(hidden)).not.toContain('station');
    expect(notificationText(hidden).body).toBe('New message from Ana');
  });

  it('count the messages waiting in the conversation', () => {
    const p = buildPayload({ ...base, seq: 9, readSeq: 6 });
    expect(p.unread).toBe(3);
    expect(notificationText(p).body).toBe('3 new messages\nAna: See you at the station');
  });

  it('read Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('map push service statuses to what the queue does', () => {
    expect(resultForStatus(201, null, 'x')).toEqual({ outcome: 'sent' });
    expect(resultForStatus(410, null, 'x').outcome).toBe('gone');
    expect(resultForStatus(404, null, 'x').outcome).toBe('gone');
    expect(resultForStatus(503, '3', 'x')).toMatchObject({ outcome: 'retry', retryAfterMs: 3000 });
    expect(resultForStatus(429, null, 'x')).toMatchObject({ outcome: 'retry' });
    expect(resultForStatus(413, null, 'x').outcome).toBe('rejected');
  });
});

describe('previews of messages with files', () => {
  const file = (kind: 'image' | 'video' | 'audio' | 'file', more = {}) => ({
    id: 'u1',
    kind,
    name: 'report.pdf',
    size: 1,
    mime: 'x/y',
    ...more,
  });
  it.each([
    [file('image'), '', '📷 Photo'],
    [file('video'), '  ', '🎥 Video'],
    [file('audio', { durationMs: 72_400 }), '', '🎤 Voice message 1:12'],
    [file('audio'), '', '🎤 Voice message'],
    [file('file'), '', '📎 report.pdf'],
    [file('image'), 'the view', '📷 the view'],
    [file('file'), 'as promised', '📎 as promised'],
  ])('%o with text %j previews as %j', (a, text, want) => {
    expect(previewText({ text, attachments: [a] })).toBe(want);
  });
  it('quotes the text of a message without files', () => {
    expect(previewText({ text: 'hello' })).toBe('hello');
  });
});
