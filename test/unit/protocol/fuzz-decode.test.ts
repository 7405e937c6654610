/**
 * Fuzzing decodeClientFrame, the server's only parser of WebSocket input: any text, any bytes
 * (decoded as the server decodes a frame), any JSON and deeply nested JSON yield a decoded frame
 * or a registry error, never a throw. At least 10,000 generated cases per run; the count is
 * printed.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ERRORS, decodeClientFrame } from '@parley/protocol';

const FRAME_TYPES = ['send', 'action', 'sync', 'read', 'ping', 'delivered', 'typing', 'active'];
let cases = 0;

/** Decode like ChatServer.onFrame and check the result is a frame or a registry error. */
function check(data: string): void {
  cases++;
  let r: ReturnType<typeof decodeClientFrame>;
  try {
    r = decodeClientFrame(data);
  } catch (err) {
    throw new Error(`decodeClientFrame threw ${String(err)} on ${JSON.stringify(data.slice(0, 80))}`);
  }
  if (r.ok) expect(FRAME_TYPES).toContain(r.frame.type);
  else {
    expect(Object.hasOwn(ERRORS, r.code), r.code).toBe(true);
    expect(typeof r.message).toBe('string');
    expect(r.message.length).toBeLessThan(200);
  }
}

/** JSON text nested `depth` levels deep, in one of the shapes a frame could take. */
function nested(depth: number, shape: 'array' | 'object', inner: string): string {
  return shape === 'array'
    ? '['.repeat(depth) + inner + ']'.repeat(depth)
    : '{"a":'.repeat(depth) + inner + '}'.repeat(depth);
}

const deep = fc
  .record({
    depth: fc.integer({ min: 1, max: 60_000 }),
    shape: fc.constantFrom<'array' | 'object'>('array', 'object'),
    field: fc.constantFrom('type', 'conversationId', 'clientId', 'text', 'seq', 'since', 't', 'extra'),
    type: fc.constantFrom(...FRAME_TYPES, 'nope'),
  })
  .map(({ depth, shape, field, type }) =>
    field === 'type'
      ? `{"type":${nested(depth, shape, '1')}}`
      : `{"type":"${type}","${field}":${nested(depth, shape, '"x"')}}`,
  );

const frameLike = fc
  .record(
    {
      type: fc.oneof(fc.constantFrom(...FRAME_TYPES), fc.jsonValue({ maxDepth: 3 })),
      conversationId: fc.jsonValue({ maxDepth: 2 }),
      clientId: fc.oneof(fc.string({ maxLength: 80, unit: 'binary' }), fc.jsonValue({ maxDepth: 2 })),
      text: fc.oneof(fc.string({ unit: 'binary' }), fc.jsonValue({ maxDepth: 2 })),
      seq: fc.oneof(fc.integer(), fc.double(), fc.jsonValue({ maxDepth: 1 })),
      since: fc.oneof(fc.integer(), fc.double(), fc.constant(null), fc.jsonValue({ maxDepth: 1 })),
      t: fc.oneof(fc.double(), fc.jsonValue({ maxDepth: 1 })),
      __proto__: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  )
  .map((v) => JSON.stringify(v));

afterAll(() => {
  console.log(`fuzz-decode: ${cases} generated frames decoded`);
  expect(cases).toBeGreaterThanOrEqual(10_000);
});

describe('decodeClientFrame under fuzzing', () => {
  it('any text', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme', maxLength: 500 })),
        check,
      ),
      { numRuns: 3000 },
    );
  });

  it('any bytes, decoded as UTF-8 like a text frame', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => check(Buffer.from(bytes).toString())),
      { numRuns: 2000 },
    );
  });

  it('any JSON value, and frame-shaped objects with fields of any type', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => check(JSON.stringify(v))),
      { numRuns: 2000 },
    );
    fc.assert(fc.property(frameLike, check), { numRuns: 2500 });
  });

  it('deeply nested JSON in every field, up to 60,000 levels (within the 1 MiB frame)', () => {
    fc.assert(fc.property(deep, check), { numRuns: 500 });
  });

  // The regression found by the fuzzing above: the unknown_frame message stringified the
  // whole `type`, and a deeply nested one overflowed the stack and crashed the server.
  it('answers unknown_frame to a deeply nested type, with a short message', () => {
    const r = decodeClientFrame(`{"type":${nested(20_000, 'array', '')}}`);
    expect(r).toMatchObject({ ok: false, code: 'unknown_frame' });
    cases++;
  });
});
