/**
 * Pages are capped by bytes as well as by count: 200 messages of the longest text, each
 * JSON-escaping to 6 bytes per code point (U+0001), once made 120 MB history and sync pages,
 * and a WebSocket catch-up of them was closed 4008 although the client read at normal speed.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TEXT_CODE_POINTS } from '@parley/protocol';
import type { Conversation, Session } from '@parley/protocol';
import { RawSocket, account, api } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';

const CAP = 1024 * 1024;
const COUNT = 200;
const TEXT = '\u0001'.repeat(MAX_TEXT_CODE_POINTS);
/** One message as JSON, for the bound "cap plus one message". */
const ONE_MESSAGE = JSON.stringify(TEXT).length + 400;

let server: ServerHandle;
let a: Session;
let conv: Conversation;
let peakRss = 0;
let sampler: NodeJS.Timeout;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

beforeAll(async () => {
  server = await startServer({ args: ['--send-bytes-burst', '100000000', '--max-page-bytes', String(CAP)] });
  const pid = server.proc.pid as number;
  a = await account(server.url);
  const b = await account(server.url);
  await api(server.url, 'POST', '/v1/contacts', { userId: b.user.id }, a.token);
  await api(server.url, 'POST', `/v1/contacts/${a.user.id}/accept`, undefined, b.token);
  conv = (
    await api<Conversation>(server.url, 'POST', '/v1/conversations/direct', { userId: b.user.id }, a.token)
  ).body;
  const ws = await RawSocket.open(server.url, a.token);
  ws.send({ type: 'sync', since: null });
  await ws.until((f) => f.some((x) => x.type === 'synced'));
  // A few at a time: each comes back to this socket too, 600 KB apiece.
  for (let i = 0; i < COUNT; i += 4) {
    for (let j = i; j < i + 4; j++)
      ws.send({ type: 'send', conversationId: conv.id, clientId: `big-${j}`, text: TEXT });
    await ws.until((f) => f.filter((x) => x.type === 'ack' || x.type === 'error').length >= i + 4, 60_000);
  }
  expect(ws.frames.filter((x) => x.type === 'error')).toEqual([]);
  ws.close();
  console.log(`server RSS after storing ${COUNT} messages: ${rssMiB(pid).toFixed(0)} MiB`);
  sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(pid))), 20);
}, 180_000);

afterAll(async () => {
  clearInterval(sampler);
  await server.stop();
  server.cleanup();
});

describe('page byte budget', () => {
  it('history pages stay under the byte cap plus one message and still page through everything', async () => {
    let before: number | undefined;
    let total = 0;
    let maxBytes = 0;
    let pages = 0;
    for (;;) {
      const q = before === undefined ? '' : `&before=${before}`;
      const res = await fetch(`${server.url}/v1/conversations/${conv.id}/messages?limit=200${q}`, {
        headers: { authorization: `Bearer ${a.token}` },
      });
      const text = await res.text();
      expect(res.status).toBe(200);
      const page = JSON.parse(text) as { messages: { seq: number }[]; hasMore: boolean };
      expect(page.messages.length).toBeGreaterThan(0);
      maxBytes = Math.max(maxBytes, Buffer.byteLength(text));
      total += page.messages.length;
      pages++;
      before = page.messages[0]?.seq;
      if (!page.hasMore) break;
    }
    console.log(
      `history: ${pages} pages, largest ${(maxBytes / 1e6).toFixed(2)} MB, peak RSS ${peakRss.toFixed(0)} MiB`,
    );
    expect(total).toBe(COUNT);
    expect(maxBytes).toBeLessThanOrEqual(CAP + ONE_MESSAGE);
  }, 120_000);

  it('sync pages stay under the byte cap plus one message', async () => {
    let since = 0;
    let total = 0;
    let maxBytes = 0;
    for (;;) {
      const res = await fetch(`${server.url}/v1/sync?since=${since}&limit=500`, {
        headers: { authorization: `Bearer ${a.token}` },
      });
      const text = await res.text();
      const page = JSON.parse(text) as { messages: unknown[]; pos: number; hasMore: boolean };
      maxBytes = Math.max(maxBytes, Buffer.byteLength(text));
      total += page.messages.length;
      since = page.pos;
      if (!page.hasMore) break;
    }
    console.log(`sync: largest page ${(maxBytes / 1e6).toFixed(2)} MB, peak RSS ${peakRss.toFixed(0)} MiB`);
    expect(total).toBe(COUNT);
    expect(maxBytes).toBeLessThanOrEqual(CAP + ONE_MESSAGE);
  }, 120_000);

  it('a WebSocket catch-up of the whole feed completes without 4008, three at once', async () => {
    const devices = await Promise.all([1, 2, 3].map(() => account(server.url, a.user.username)));
    const sockets = await Promise.all(devices.map((d) => RawSocket.open(server.url, d.token)));
    for (const s of sockets) s.send({ type: 'sync', since: 0 });
    await Promise.all(sockets.map((s) => s.until((f) => f.some((x) => x.type === 'synced'), 120_000)));
    for (const s of sockets) {
      expect(s.closeCode).toBeNull();
      expect(s.frames.filter((x) => x.type === 'message').length).toBe(COUNT);
      s.close();
    }
    console.log(`catch-up x3 of ${COUNT} messages: peak RSS ${peakRss.toFixed(0)} MiB`);
    // Generous: the unbounded pages took 1.5-2 GB here.
    expect(peakRss).toBeLessThan(1024);
  }, 180_000);
});
