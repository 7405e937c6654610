/**
 * Bad input: generated malformed frames, wrong field types, unknown types, oversized frames
 * and HTTP bodies. The server answers each with a registry code, never crashes, and a canary
 * conversation on the same server keeps working.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, isErrorCode } from '@parley/protocol';
import type { Conversation, Session } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { RawSocket, account, api } from '../helpers/raw.js';

let server: ServerHandle;
let a: Session;
let b: Session;
let conv: Conversation;

beforeAll(async () => {
  server = await startServer({
    args: ['--max-frame-bytes', '65536', '--max-body-bytes', '65536', '--send-burst', '100000'],
  });
  a = await account(server.url);
  b = await account(server.url);
  conv = (
    await api<Conversation>(
      server.url,
      'POST',
      '/v1/conversations/direct',
      { username: b.user.username },
      a.token,
    )
  ).body;
});

afterAll(async () => {
  await server.stop();
  server.cleanup();
});

async function canaryWorks(text: string): Promise<void> {
  const rb = await RawSocket.open(server.url, b.token);
  rb.send({ type: 'sync', since: null });
  await rb.until((f) => f.some((x) => x.type === 'synced'));
  const sent = await api(
    server.url,
    'POST',
    `/v1/conversations/${conv.id}/messages`,
    { clientId: text, text },
    a.token,
  );
  expect(sent.status).toBe(201);
  await rb.until((f) => f.some((x) => x.type === 'message' && x.message.text === text));
  rb.close();
}

const frameArb = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.json({ maxDepth: 4 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        type: fc.oneof(
          fc.constantFrom('send', 'sync', 'read', 'ping', 'ack', 'message', '__proto__'),
          fc.string(),
        ),
        conversationId: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.string())),
        clientId: fc.oneof(fc.string({ maxLength: 100 }), fc.integer(), fc.constant(null), fc.object()),
        text: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.object()),
        seq: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(-1)),
        since: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)),
        t: fc.oneof(fc.integer(), fc.string()),
      },
      { requiredKeys: ['type'] },
    )
    .map((v) => JSON.stringify(v)),
);

describe('bad input', () => {
  it('answers generated malformed frames with registry codes and stays up', async () => {
    const s = await RawSocket.open(server.url, a.token);
    await s.until((f) => f.some((x) => x.type === 'ready'));
    const frames = fc.sample(frameArb, { numRuns: 600, seed: 4242 });
    for (const f of frames) s.send(f);
    s.send({ type: 'ping', t: 123456 });
    // Frames are answered in order, so the final pong means every frame above was handled.
    await s.until((fs) => fs.some((x) => x.type === 'pong' && x.t === 123456), 20_000);
    const errors = s.frames.filter((x) => x.type === 'error');
    expect(errors.length).toBeGreaterThan(100);
    for (const e of errors) expect(isErrorCode(e.type === 'error' ? e.code : null)).toBe(true);
    expect(s.closeCode).toBeNull();
    s.close();
    await canaryWorks('canary-1');
  });

  it('refuses each malformed frame kind with its specific code and keeps the connection', async () => {
    const s = await RawSocket.open(server.url, a.token);
    await s.until((f) => f.some((x) => x.type === 'ready'));
    const cases: Array<[unknown, string]> = [
      ['{not json', 'invalid_json'],
      ['[1,2]', 'invalid_field'],
      [{ type: 'teleport' }, 'unknown_frame'],
      [{ type: 'send', conversationId: conv.id, clientId: 5, text: 'x' }, 'invalid_field'],
      [{ type: 'send', conversationId: conv.id, clientId: 'k', text: 42 }, 'invalid_field'],
      [{ type: 'send', conversationId: conv.id, clientId: 'e1', text: '' }, 'text_empty'],
      [{ type: 'send', conversationId: conv.id, clientId: 'e2', text: ' \n\t ' }, 'text_empty'],
      [{ type: 'send', conversationId: 'c_nope', clientId: 'e3', text: 'x' }, 'not_found'],
      // No store takes U+0000 (PostgreSQL text cannot hold it), so none is offered one.
      [{ type: 'send', conversationId: conv.id, clientId: 'e4', text: 'a\u0000b' }, 'invalid_field'],
      [{ type: 'send', conversationId: conv.id, clientId: 'e\u0000', text: 'x' }, 'invalid_field'],
      [{ type: 'read', conversationId: conv.id, seq: -1 }, 'invalid_field'],
      [{ type: 'sync', since: 'yesterday' }, 'invalid_field'],
    ];
    for (const [frame, code] of cases) {
      const before = s.frames.length;
      s.send(frame);
      const fs = await s.until((f) => f.slice(before).some((x) => x.type === 'error'));
      const err = fs.slice(before).find((x) => x.type === 'error');
      expect(err && err.type === 'error' ? err.code : null, JSON.stringify(frame)).toBe(code);
    }
    s.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await s.until((f) => f.filter((x) => x.type === 'error').length === cases.length + 1);
    expect(s.closeCode).toBeNull();
    s.close();
  });

  it('echoes a clientId refused for its length whole as the error ref', async () => {
    const s = await RawSocket.open(server.url, a.token);
    await s.until((f) => f.some((x) => x.type === 'ready'));
    // Just over the limit, and nearly as long as the frame cap (64 KiB on this server).
    for (const clientId of ['r'.repeat(65), `${'long-'.repeat(12_000)}end`]) {
      const before = s.frames.length;
      s.send({ type: 'send', conversationId: conv.id, clientId, text: 'x' });
      const fs = await s.until((f) => f.slice(before).some((x) => x.type === 'error'));
      const err = fs.slice(before).find((x) => x.type === 'error');
      expect(err).toMatchObject({ type: 'error', code: 'invalid_field' });
      expect(err?.type === 'error' && err.ref).toBe(clientId);
    }
    expect(s.closeCode).toBeNull();
    s.close();
  });

  it('delivers a lone surrogate as U+FFFD and acks the clientId as it was sent', async () => {
    const rb = await RawSocket.open(server.url, b.token);
    rb.send({ type: 'sync', since: null });
    await rb.until((f) => f.some((x) => x.type === 'synced'));
    const s = await RawSocket.open(server.url, a.token);
    await s.until((f) => f.some((x) => x.type === 'ready'));
    s.send({ type: 'send', conversationId: conv.id, clientId: 'lone\uDC00', text: 'a \uD800 b' });
    const acked = await s.until((f) => f.some((x) => x.type === 'ack' || x.type === 'error'));
    expect(acked.find((x) => x.type === 'ack' || x.type === 'error')).toMatchObject({
      type: 'ack',
      clientId: 'lone\uDC00',
    });
    const got = await rb.until((f) => f.some((x) => x.type === 'message' && x.message.text.startsWith('a ')));
    const delivered = got.find((x) => x.type === 'message' && x.message.text.startsWith('a '));
    expect(delivered).toMatchObject({ message: { text: 'a \uFFFD b', clientId: 'lone\uFFFD' } });
    s.close();
    rb.close();
  });

  it('closes a socket that sends a frame over the cap with 1009, others unaffected', async () => {
    const s = await RawSocket.open(server.url, a.token);
    await s.until((f) => f.some((x) => x.type === 'ready'));
    s.send({ type: 'send', conversationId: conv.id, clientId: 'big', text: 'x'.repeat(70_000) });
    expect(await s.waitClose()).toBe(1009);
    expect(ERRORS.frame_too_large.ws).toBe(1009);
    await canaryWorks('canary-2');
  });

  it('answers bad HTTP bodies with registry codes', async () => {
    const post = (body: string, type = 'application/json') =>
      fetch(`${server.url}/v1/conversations/${conv.id}/messages`, {
        method: 'POST',
        headers: { 'content-type': type, authorization: `Bearer ${a.token}` },
        body,
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { code: string } }));
    expect(await post('{"clientId":')).toMatchObject({ status: 400, body: { code: 'invalid_json' } });
    expect(await post(JSON.stringify({ clientId: 'h1', text: 7 }))).toMatchObject({
      status: 400,
      body: { code: 'invalid_field' },
    });
    expect(await post(JSON.stringify({ clientId: 'h2', text: 'y'.repeat(70_000) }))).toMatchObject({
      status: 413,
      body: { code: 'body_too_large' },
    });
    const noAuth = await api(server.url, 'GET', '/v1/conversations');
    expect(noAuth).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    const unknownRoute = await api(server.url, 'GET', '/v1/nothing-here', undefined, a.token);
    expect(unknownRoute).toMatchObject({ status: 404, body: { code: 'not_found' } });
    await canaryWorks('canary-3');
  });

  it('refuses a WebSocket upgrade without a valid token before upgrading', async () => {
    await expect(RawSocket.open(server.url, 'not-a-token')).rejects.toThrow(/401/);
    const fromUrl = await fetch(`${server.url}/v1/ws?token=${a.token}`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    }).catch(() => null);
    // A token in the URL is never accepted.
    expect(fromUrl === null || fromUrl.status === 401 || fromUrl.status === 400).toBe(true);
  });
});
