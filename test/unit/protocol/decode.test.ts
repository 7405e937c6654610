/**
 * decodeClientFrame: the server's only parser of client input. It must never throw, must answer
 * every bad frame with a registry code, and must pass every valid frame through unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERRORS, MAX_CLIENT_ID_LENGTH, MAX_CURSOR_LENGTH, decodeClientFrame } from '@parley/protocol';
import type { ClientFrame, DecodeResult } from '@parley/protocol';

const RUNS = { numRuns: 2000 };

/** Every client frame type of protocol v1. */
const FRAME_TYPES: readonly string[] = ['send', 'sync', 'read', 'ping', 'delivered', 'typing', 'active'];

/** The clientId a frame carries, if it is a JSON object with a string one. */
function clientIdOf(data: string): string | undefined {
  try {
    const v: unknown = JSON.parse(data);
    const id = typeof v === 'object' && v !== null ? (v as { clientId?: unknown }).clientId : undefined;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The result is well formed: ok with a frame, or a registry code with a message (and a ref that is the clientId sent). */
function checkShape(r: DecodeResult, data: string): void {
  if (r.ok) {
    expect(FRAME_TYPES).toContain(r.frame.type);
    return;
  }
  expect(Object.hasOwn(ERRORS, r.code), `unknown code ${String(r.code)}`).toBe(true);
  expect(typeof r.message).toBe('string');
  if (r.ref !== undefined) expect(r.ref).toBe(clientIdOf(data));
}

function decodeSafely(data: string): DecodeResult {
  let r: DecodeResult | undefined;
  expect(() => {
    r = decodeClientFrame(data);
  }).not.toThrow();
  checkShape(r as DecodeResult, data);
  return r as DecodeResult;
}

function codeOf(data: string | object): string {
  const r = decodeClientFrame(typeof data === 'string' ? data : JSON.stringify(data));
  return r.ok ? 'ok' : r.code;
}

// ---- arbitraries of valid frames ----

const id = fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme-ascii' });
const anyId = fc.oneof(id, fc.string({ minLength: 1, maxLength: 64, unit: 'binary' }));
const seq = fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
/** JSON numbers that survive a round trip unchanged (-0 becomes 0 in JSON). */
const jsonNumber = fc
  .oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))
  .map((n) => (Object.is(n, -0) ? 0 : n));

const sendFrame = fc.record({
  type: fc.constant('send' as const),
  conversationId: anyId,
  clientId: anyId,
  text: fc.string({ unit: 'binary', maxLength: 200 }),
});
const cursor = fc
  .array(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { minLength: 1, maxLength: 64 })
  .map((ps) => ps.join('.'));
const syncFrame = fc.record({
  type: fc.constant('sync' as const),
  since: fc.oneof(fc.constant(null), seq, cursor),
});
const readFrame = fc.record({ type: fc.constant('read' as const), conversationId: anyId, seq });
const pingFrame = fc.oneof(
  fc.constant({ type: 'ping' as const }),
  fc.record({ type: fc.constant('ping' as const), t: jsonNumber }),
);
const deliveredFrame = fc.record({ type: fc.constant('delivered' as const), conversationId: anyId, seq });
const typingFrame = fc.record({ type: fc.constant('typing' as const), conversationId: anyId });
const activeFrame = fc.record({ type: fc.constant('active' as const), foreground: fc.boolean() });
const validFrame: fc.Arbitrary<ClientFrame> = fc.oneof(
  sendFrame,
  syncFrame,
  readFrame,
  pingFrame,
  deliveredFrame,
  typingFrame,
  activeFrame,
);

describe('decodeClientFrame never throws', () => {
  it('on arbitrary strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })),
        (s) => {
          decodeSafely(s);
        },
      ),
      RUNS,
    );
  });

  it('on arbitrary JSON values: never invalid_json, and only invalid_field for non-objects', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = decodeSafely(JSON.stringify(v));
        if (!r.ok) expect(r.code).not.toBe('invalid_json');
        if (typeof v !== 'object' || v === null || Array.isArray(v)) {
          expect(r.ok).toBe(false);
          if (!r.ok) expect(r.code).toBe('invalid_field');
        }
      }),
      RUNS,
    );
  });

  it('on objects with a known type and arbitrary fields', () => {
    const fields = fc.dictionary(
      fc.constantFrom('conversationId', 'clientId', 'text', 'since', 'seq', 't', 'extra'),
      fc.jsonValue({ maxDepth: 2 }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...FRAME_TYPES), fields, (type, rest) => {
        const r = decodeSafely(JSON.stringify({ ...rest, type }));
        if (!r.ok) expect(r.code).toBe('invalid_field');
        else expect(r.frame.type).toBe(type);
      }),
      RUNS,
    );
  });

  it('on objects with any other type: unknown_frame', () => {
    const otherType = fc.oneof(
      fc.string().filter((s) => !FRAME_TYPES.includes(s)),
      fc.jsonValue().filter((v) => typeof v !== 'string'),
    );
    fc.assert(
      fc.property(otherType, fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 1 })), (type, rest) => {
        const r = decodeSafely(JSON.stringify({ ...rest, type }));
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.code).toBe('unknown_frame');
      }),
      RUNS,
    );
  });

  it('on truncated and mutated valid frames', () => {
    fc.assert(
      fc.property(validFrame, fc.nat(), fc.string({ maxLength: 3 }), (frame, cut, junk) => {
        const s = JSON.stringify(frame);
        const at = cut % (s.length + 1);
        decodeSafely(s.slice(0, at));
        decodeSafely(s.slice(0, at) + junk + s.slice(at));
      }),
      RUNS,
    );
  });
});

describe('decodeClientFrame accepts valid frames', () => {
  it('round-trips every valid frame unchanged', () => {
    fc.assert(
      fc.property(validFrame, (frame) => {
        const r = decodeClientFrame(JSON.stringify(frame));
        expect(r).toEqual({ ok: true, frame });
      }),
      RUNS,
    );
  });

  it('drops unknown fields', () => {
    fc.assert(
      fc.property(validFrame, fc.jsonValue(), (frame, extra) => {
        const r = decodeClientFrame(JSON.stringify({ ...frame, extra, more: 1 }));
        expect(r).toEqual({ ok: true, frame });
      }),
      RUNS,
    );
  });

  it('treats a missing since as null', () => {
    expect(decodeClientFrame('{"type":"sync"}')).toEqual({ ok: true, frame: { type: 'sync', since: null } });
  });

  it('accepts empty text (the server, not the decoder, answers text_empty and text_too_long)', () => {
    expect(codeOf({ type: 'send', conversationId: 'c_1', clientId: 'a', text: '' })).toBe('ok');
    expect(codeOf({ type: 'send', conversationId: 'c_1', clientId: 'a', text: 'x'.repeat(100_000) })).toBe(
      'ok',
    );
  });

  it('accepts ids of exactly 1 and 64 characters', () => {
    const long = 'x'.repeat(MAX_CLIENT_ID_LENGTH);
    expect(codeOf({ type: 'send', conversationId: 'c', clientId: long, text: 'hi' })).toBe('ok');
    expect(codeOf({ type: 'send', conversationId: 'c'.repeat(64), clientId: 'a', text: 'hi' })).toBe('ok');
    expect(codeOf({ type: 'read', conversationId: 'c'.repeat(64), seq: 0 })).toBe('ok');
  });
});

describe('decodeClientFrame rejects bad frames with the right code', () => {
  it('answers invalid_json for text that is not JSON', () => {
    for (const s of [
      '',
      ' ',
      '{',
      '{not json',
      '{"type":"ping",}',
      'undefined',
      "{'type':'ping'}",
      '\u0000',
    ]) {
      expect(codeOf(s), JSON.stringify(s)).toBe('invalid_json');
    }
  });

  it('answers invalid_field for JSON that is not an object', () => {
    for (const s of ['null', '1', '"send"', 'true', '[]', '[{"type":"ping"}]']) {
      expect(codeOf(s), s).toBe('invalid_field');
    }
  });

  it('answers unknown_frame for a missing or unknown type', () => {
    expect(codeOf({})).toBe('unknown_frame');
    expect(codeOf({ type: 'hello' })).toBe('unknown_frame');
    expect(codeOf({ type: 'TYPING' })).toBe('unknown_frame');
    expect(codeOf({ type: 'SEND' })).toBe('unknown_frame');
    expect(codeOf({ type: 'ack' })).toBe('unknown_frame');
    expect(codeOf({ type: null })).toBe('unknown_frame');
    expect(codeOf({ type: 1 })).toBe('unknown_frame');
    expect(codeOf({ type: ['send'] })).toBe('unknown_frame');
    expect(codeOf({ type: '__proto__' })).toBe('unknown_frame');
    expect(codeOf('{"type":"toString"}')).toBe('unknown_frame');
  });

  it('answers invalid_field for a send without a usable clientId, with no ref', () => {
    const base = { type: 'send', conversationId: 'c_1', text: 'hi' };
    for (const clientId of [undefined, 7, null, ['a'], { id: 'a' }]) {
      const r = decodeClientFrame(JSON.stringify({ ...base, clientId }));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.code).toBe('invalid_field');
        expect(r.ref).toBeUndefined();
      }
    }
  });

  it('answers invalid_field for an empty clientId, with the empty string as ref', () => {
    const r = decodeClientFrame('{"type":"send","conversationId":"c_1","clientId":"","text":"hi"}');
    expect(r).toMatchObject({ ok: false, code: 'invalid_field', ref: '' });
  });

  it('answers invalid_field for a too-long clientId with the whole clientId as ref', () => {
    for (const clientId of [
      'k'.repeat(MAX_CLIENT_ID_LENGTH + 1),
      `${'😀'.repeat(MAX_CLIENT_ID_LENGTH)}-tail`,
      'x'.repeat(100_000),
    ]) {
      const r = decodeClientFrame(
        JSON.stringify({ type: 'send', conversationId: 'c_1', clientId, text: 'hi' }),
      );
      expect(r).toMatchObject({ ok: false, code: 'invalid_field' });
      expect(!r.ok && r.ref).toBe(clientId);
    }
  });

  it('answers invalid_field with ref = clientId for other bad send fields', () => {
    const ok = { type: 'send', conversationId: 'c_1', clientId: 'm-1', text: 'hi' };
    const bad = [
      { conversationId: undefined },
      { conversationId: '' },
      { conversationId: 'c'.repeat(65) },
      { conversationId: 42 },
      { text: undefined },
      { text: 42 },
      { text: null },
      { text: ['hi'] },
    ];
    for (const change of bad) {
      const r = decodeClientFrame(JSON.stringify({ ...ok, ...change }));
      expect(r, JSON.stringify(change)).toMatchObject({ ok: false, code: 'invalid_field', ref: 'm-1' });
    }
  });

  it('answers invalid_field for a bad sync since', () => {
    for (const since of [
      -1,
      1.5,
      true,
      [],
      {},
      2 ** 53,
      '',
      '-3',
      '1..2',
      '1.',
      '.1',
      ' 3',
      '3e2',
      '12345678901234567',
      `${'1.'.repeat(MAX_CURSOR_LENGTH / 2)}1`,
    ]) {
      expect(codeOf({ type: 'sync', since }), JSON.stringify(since)).toBe('invalid_field');
    }
  });

  it('takes a feed cursor string or a legacy position as sync since', () => {
    for (const since of ['0', '3', '4481.4482.4547', 4481, 0]) {
      expect(decodeClientFrame(JSON.stringify({ type: 'sync', since }))).toEqual({
        ok: true,
        frame: { type: 'sync', since },
      });
    }
  });

  it.each(['read', 'delivered'])('answers invalid_field for a bad %s', (type) => {
    for (const fields of [
      { seq: 1 },
      { conversationId: '', seq: 1 },
      { conversationId: 'c'.repeat(65), seq: 1 },
      { conversationId: 7, seq: 1 },
      { conversationId: 'c_1' },
      { conversationId: 'c_1', seq: -1 },
      { conversationId: 'c_1', seq: 0.5 },
      { conversationId: 'c_1', seq: '1' },
      { conversationId: 'c_1', seq: null },
      { conversationId: 'c_1', seq: 2 ** 53 },
    ]) {
      const frame = { type, ...fields };
      const r = decodeClientFrame(JSON.stringify(frame));
      expect(r, JSON.stringify(frame)).toMatchObject({ ok: false, code: 'invalid_field' });
      if (!r.ok) expect(r.ref).toBeUndefined();
    }
  });

  it('answers invalid_field for a typing frame without a usable conversationId', () => {
    for (const conversationId of [undefined, '', 'c'.repeat(65), 1, null]) {
      expect(codeOf({ type: 'typing', conversationId }), JSON.stringify(conversationId)).toBe(
        'invalid_field',
      );
    }
  });

  it('answers invalid_field for an active frame whose foreground is not a boolean', () => {
    for (const foreground of [undefined, null, 'true', 1, 0, [], {}]) {
      expect(codeOf({ type: 'active', foreground }), JSON.stringify(foreground)).toBe('invalid_field');
    }
  });

  it('answers invalid_field for a ping with a non-numeric t', () => {
    for (const t of ['1', null, true, [], {}]) {
      expect(codeOf({ type: 'ping', t }), JSON.stringify(t)).toBe('invalid_field');
    }
  });
});

describe('send attachments', () => {
  const send = (attachments: unknown) =>
    decodeClientFrame(
      JSON.stringify({ type: 'send', conversationId: 'c1', clientId: 'k1', text: '', attachments }),
    );

  it('passes 1-10 distinct uploads with their duration and waveform through', () => {
    const refs = [
      { uploadId: 'a'.repeat(22), durationMs: 1500, waveform: 'AAEC' },
      { uploadId: 'b'.repeat(22) },
    ];
    const r = send(refs);
    expect(r.ok && r.frame.type === 'send' && r.frame.attachments).toEqual(refs);
  });

  it.each([
    ['empty', []],
    ['eleven', Array.from({ length: 11 }, (_, i) => ({ uploadId: `u${i}` }))],
    ['not an array', { uploadId: 'u' }],
    ['twice the same upload', [{ uploadId: 'u' }, { uploadId: 'u' }]],
    ['a negative duration', [{ uploadId: 'u', durationMs: -1 }]],
    ['a fractional duration', [{ uploadId: 'u', durationMs: 1.5 }]],
    ['a waveform that is not base64', [{ uploadId: 'u', waveform: '!!!!' }]],
    ['a waveform over 128 bytes', [{ uploadId: 'u', waveform: 'A'.repeat(176) }]],
  ])('refuses %s with invalid_field and the clientId', (_name, attachments) => {
    expect(send(attachments)).toMatchObject({ ok: false, code: 'invalid_field', ref: 'k1' });
  });
});
