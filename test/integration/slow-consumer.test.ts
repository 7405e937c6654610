/**
 * Slow consumers and floods. A client reading about one message a second in a busy group, and
 * a client flooding every frame type as fast as its socket takes them: the server's memory (RSS
 * of the server process) stays within a generous bound, the other members get every message,
 * and a canary pair of SDK clients in another conversation gets all of its messages through.
 * Memory, rates and what happened to the slow and the flooding client are printed, not asserted
 * as timings.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Conversation, ServerFrame, Session } from '@parley/protocol';
import { Canary } from '../helpers/canary.js';
import { RawSocket, account, api, uname } from '../helpers/raw.js';
import { RssSampler, mib, rssBytes } from '../helpers/rss.js';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';

/** How far above its starting RSS the server may go: generous, a leak grows past it. */
const RSS_BOUND = 256 * 2 ** 20;

let server: ServerHandle | undefined;
let canary: Canary | undefined;
afterEach(async () => {
  canary?.stop();
  await server?.stop();
  server?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A group of `creator` and `others`, all of them the creator's contacts first. */
async function groupOf(url: string, creator: Session, others: Session[]): Promise<Conversation> {
  for (const o of others) {
    await api(url, 'POST', '/v1/contacts', { userId: o.user.id }, creator.token);
    await api(url, 'POST', `/v1/contacts/${creator.user.id}/accept`, undefined, o.token);
  }
  const res = await api<Conversation>(
    url,
    'POST',
    '/v1/conversations/groups',
    { name: 'Busy', members: others.map((o) => o.user.username) },
    creator.token,
  );
  expect(res.status).toBe(201);
  return res.body;
}

async function synced(url: string, token: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, token);
  s.send({ type: 'sync', since: null });
  await s.until((f) => f.some((x) => x.type === 'synced'));
  return s;
}

const messagesIn = (frames: ServerFrame[], conversationId: string) =>
  frames.flatMap((f) =>
    f.type === 'message' && f.message.conversationId === conversationId ? [f.message] : [],
  );

function countBy(frames: ServerFrame[]): string {
  const n = new Map<string, number>();
  for (const f of frames) {
    const k = f.type === 'error' ? `error ${f.code}` : f.type;
    n.set(k, (n.get(k) ?? 0) + 1);
  }
  return [...n.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, c]) => `${k} x${c}`)
    .join(', ');
}

describe('slow consumers and floods', () => {
  it('a client reading one message a second in a busy group costs bounded memory and nobody else', async () => {
    // A 2 MiB send buffer per socket, so the slow reader passes it within seconds.
    server = await startServer({ args: ['--max-buffered-bytes', String(2 * 2 ** 20)] });
    const url = server.url;
    const senders = await Promise.all(Array.from({ length: 5 }, () => account(url)));
    const [fast, slow] = await Promise.all([account(url), account(url)]);
    const group = await groupOf(url, senders[0] as Session, [...senders.slice(1), fast, slow]);
    canary = await Canary.start(url);
    const fastSock = await synced(url, fast.token);
    const slowSock = await synced(url, slow.token);
    const senderSocks = await Promise.all(senders.map((s) => synced(url, s.token)));
    const baseline = rssBytes(server.proc.pid as number) ?? 0;
    const sampler = new RssSampler(server.proc.pid as number);

    // The slow reader: paused, and let read about one message a second.
    slowSock.ws.pause();
    let slowRead = 0;
    slowSock.ws.on('message', () => {
      slowRead++;
      slowSock.ws.pause();
    });
    const reader = setInterval(() => slowSock.ws.resume(), 1000);

    canary.chat(100);
    // Five senders, 25 messages of 16 KB a second each, for 10 s: about 20 MiB to every member,
    // more than the kernel's socket buffers and the server's 2 MiB together.
    const text = 'x'.repeat(16_384);
    const sent: string[] = [];
    const started = Date.now();
    while (Date.now() - started < 10_000) {
      for (const s of senderSocks) {
        const clientId = uname('b');
        sent.push(clientId);
        s.send({ type: 'send', conversationId: group.id, clientId, text });
      }
      await sleep(40);
    }
    const replies = senderSocks.flatMap((s) => s.frames);
    await Promise.all(
      senderSocks.map((s) =>
        s.until(
          (f) => f.filter((x) => x.type === 'ack' || x.type === 'error').length >= sent.length / 5,
          30_000,
        ),
      ),
    );
    const acked = new Set(
      senderSocks.flatMap((s) => s.frames.flatMap((f) => (f.type === 'ack' ? [f.clientId] : []))),
    );
    // Every acked message reaches the member who reads normally.
    await fastSock.until((f) => messagesIn(f, group.id).length >= acked.size, 30_000);
    const report = await canary.finish();

    // The slow reader wakes up: it was cut off as a slow consumer (4008), or got everything.
    clearInterval(reader);
    const slowBefore = slowRead;
    slowSock.ws.resume();
    slowSock.ws.removeAllListeners('message').on('message', () => slowRead++);
    const deadline = Date.now() + 60_000;
    while (slowSock.closeCode === null && slowRead < acked.size && Date.now() < deadline) await sleep(50);
    await sleep(1000);
    const final = sampler.stop();

    console.log(
      `slow consumer: ${sent.length} sends of 16 KB by 5 senders in 10 s, ${acked.size} acked ` +
        `(${countBy(replies.filter((f) => f.type === 'error'))}); fast member got ${messagesIn(fastSock.frames, group.id).length}; ` +
        `slow reader read ${slowBefore} while slow, ${slowRead} in all, close code ${String(slowSock.closeCode)}; ` +
        `server RSS ${mib(baseline)} before, peak ${mib(sampler.peak)}, ${mib(final)} after (${sampler.samples} samples); ` +
        `canary ${report.delivered}/${report.sent} delivered`,
    );
    expect(acked.size).toBeGreaterThan(0);
    expect(new Set(messagesIn(fastSock.frames, group.id).map((m) => m.clientId))).toEqual(acked);
    expect(slowSock.closeCode === 4008 || slowRead >= acked.size).toBe(true);
    expect(report.delivered).toBe(report.sent);
    expect(sampler.peak - baseline).toBeLessThan(RSS_BOUND);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    for (const s of [fastSock, slowSock, ...senderSocks]) s.close();
  }, 120_000);

  it('a client flooding every frame type costs bounded memory and nobody else', async () => {
    server = await startServer();
    const url = server.url;
    const [flooder, member] = await Promise.all([account(url), account(url)]);
    const group = await groupOf(url, flooder, [member]);
    canary = await Canary.start(url);
    const memberSock = await synced(url, member.token);
    const baseline = rssBytes(server.proc.pid as number) ?? 0;
    const sampler = new RssSampler(server.proc.pid as number);

    const deep = `{"type":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const frames: Array<() => string | Buffer> = [
      () => JSON.stringify({ type: 'send', conversationId: group.id, clientId: uname('f'), text: 'flood' }),
      () =>
        JSON.stringify({
          type: 'send',
          conversationId: group.id,
          clientId: uname('f'),
          text: 'y'.repeat(65_536),
        }),
      () =>
        JSON.stringify({ type: 'send', conversationId: `c_${uname('x')}`, clientId: uname('f'), text: 'x' }),
      () => JSON.stringify({ type: 'sync', since: 0 }),
      () => JSON.stringify({ type: 'read', conversationId: group.id, seq: 1 }),
      () => JSON.stringify({ type: 'read', conversationId: `c_${uname('x')}`, seq: 1 }),
      () => JSON.stringify({ type: 'ping', t: 1 }),
      () => JSON.stringify({ type: 'delivered', conversationId: group.id, seq: 1 }),
      () => JSON.stringify({ type: 'delivered', conversationId: `c_${uname('x')}`, seq: 1 }),
      () => JSON.stringify({ type: 'typing', conversationId: group.id }),
      () => JSON.stringify({ type: 'typing', conversationId: `c_${uname('x')}` }),
      () => '{not json',
      () => JSON.stringify({ type: 'teleport' }),
      () => deep,
      () => Buffer.from([1, 2, 3]),
    ];

    canary.chat(100);
    const seen: ServerFrame[] = [];
    const closes: number[] = [];
    let sent = 0;
    let sentBytes = 0;
    const started = Date.now();
    // Flood for 8 s as fast as the socket takes frames, reconnecting whenever the server closes it.
    while (Date.now() - started < 8_000) {
      const sock = await RawSocket.open(url, flooder.token);
      await sock.until((f) => f.some((x) => x.type === 'ready'));
      sock.send({ type: 'sync', since: null });
      while (sock.closeCode === null && Date.now() - started < 8_000) {
        if (sock.ws.bufferedAmount > 2 ** 20) {
          await sleep(1);
          continue;
        }
        const frame = (frames[sent % frames.length] as () => string | Buffer)();
        sock.ws.send(frame, { binary: typeof frame !== 'string' });
        sent++;
        sentBytes += frame.length;
        if (sent % 200 === 0) await new Promise((r) => setImmediate(r));
      }
      if (sock.closeCode === null) {
        // Pings over the socket's frame rate may be dropped: ask until one is answered, so
        // that every reply to the flood has arrived.
        const asking = setInterval(() => sock.send({ type: 'ping', t: 99 }), 500);
        sock.send({ type: 'ping', t: 99 });
        await sock
          .until((f) => f.some((x) => x.type === 'pong' && x.t === 99), 30_000)
          .catch(() => undefined);
        clearInterval(asking);
        sock.close();
        await sock.waitClose().catch(() => undefined);
      }
      closes.push(sock.closeCode ?? -1);
      seen.push(...sock.frames);
    }
    const seconds = (Date.now() - started) / 1000;
    const acked = new Set(seen.flatMap((f) => (f.type === 'ack' ? [f.clientId] : [])));
    await memberSock.until((f) => messagesIn(f, group.id).length >= acked.size, 30_000);
    const report = await canary.finish();
    await sleep(1000);
    const final = sampler.stop();

    console.log(
      `flood: ${sent} frames (${mib(sentBytes)}) in ${seconds.toFixed(1)} s on ${closes.length} connection(s), ` +
        `closed with ${closes.join(', ')}; answers: ${countBy(seen)}; member got ${messagesIn(memberSock.frames, group.id).length} ` +
        `of ${acked.size} acked; server RSS ${mib(baseline)} before, peak ${mib(sampler.peak)}, ${mib(final)} after; ` +
        `canary ${report.delivered}/${report.sent} delivered`,
    );
    expect(sent).toBeGreaterThan(1000);
    // Every acked send reached the member once. A send stored just before the server closed
    // the flooding socket reaches the member though its ack was cut off with the socket.
    const got = messagesIn(memberSock.frames, group.id).map((m) => m.clientId);
    expect(new Set(got).size).toBe(got.length);
    expect([...acked].filter((id) => !got.includes(id))).toEqual([]);
    expect(got.filter((id) => !id.startsWith('f')).length).toBe(0);
    expect(report.delivered).toBe(report.sent);
    expect(sampler.peak - baseline).toBeLessThan(RSS_BOUND);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(server.proc.exitCode).toBeNull();
    memberSock.close();
  }, 120_000);
});
