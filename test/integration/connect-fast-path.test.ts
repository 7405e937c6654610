/**
 * The connect path without store reads: auth answered from the token cache, and a first
 * `sync` from the head read for `ready` with no feed read. A revoked token is refused at
 * once, and messages appended around the connect arrive exactly once, in feed order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ack, Message, ServerFrame } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { clusterUnavailable, startCluster } from '../helpers/cluster.js';
import type { Cluster } from '../helpers/cluster.js';
import { RawSocket } from '../helpers/raw.js';
import { newDevice, newUser } from '../helpers/sdk.js';

const messagesOf = (frames: ServerFrame[]): Message[] =>
  frames.flatMap((f) => (f.type === 'message' ? [f.message] : []));

/** Open a socket and send `sync` at once (before `ready`, which the protocol allows). */
async function openSynced(base: string, token: string, since: number | null = null): Promise<RawSocket> {
  const s = await RawSocket.open(base, token);
  s.send({ type: 'sync', since });
  return s;
}

/**
 * `b` opens 30 connections (over 8 devices), each syncing from `ready`, while `a` sends
 * to `b` with a few messages in flight around every connect. Every connection must then
 * hold every message of b's feed after its `ready.pos` exactly once and in order; nothing
 * before it.
 */
async function aroundConnect(api: string, wsBases: string[]): Promise<void> {
  const a = await newUser(api);
  const b = await newUser(api);
  const devices = [b, ...(await Promise.all([1, 2, 3, 4, 5, 6, 7].map(() => newDevice(api, b.username))))];
  const conv = await a.http.direct({ username: b.username });
  const sender = await openSynced(wsBases[0] as string, a.session.token);
  await sender.until((f) => f.some((x) => x.type === 'synced'));
  const sockets: RawSocket[] = [];
  let count = 0;
  for (let k = 0; k < 30; k++) {
    for (let i = 0; i < 4; i++) {
      sender.send({ type: 'send', conversationId: conv.id, clientId: `c${count}`, text: `m${count}` });
      count++;
    }
    const device = devices[k % devices.length] as (typeof devices)[number];
    sockets.push(await openSynced(wsBases[k % wsBases.length] as string, device.session.token));
    if (k % 3 === 0) await sender.until((f) => f.filter((x) => x.type === 'ack').length >= count);
  }
  await sender.until((f) => f.filter((x) => x.type === 'ack').length >= count);
  const acks = sender.frames.filter((f): f is Ack & { type: 'ack' } => f.type === 'ack');
  expect(acks.length).toBe(count);
  // b's whole feed, from a fresh full sync.
  const reader = await newDevice(api, b.username);
  const full = await openSynced(wsBases[0] as string, reader.session.token, 0);
  await full.until((f) => messagesOf(f).length >= count);
  const feed = messagesOf(full.frames).map((m) => m.pos);
  expect(feed.length).toBe(count);
  const head = feed[feed.length - 1] as number;
  for (const s of sockets) {
    const frames = await s
      .until((f) => {
        const ms = messagesOf(f);
        const last = ms.length > 0 ? ms[ms.length - 1]!.pos : 0;
        const synced = f.find((x) => x.type === 'synced');
        return synced?.type === 'synced' && Math.max(last, synced.pos) >= head;
      })
      .catch(() => s.frames);
    const ready = frames.find((f) => f.type === 'ready');
    const synced = frames.find((f) => f.type === 'synced');
    expect(ready?.type).toBe('ready');
    expect(frames[0]?.type).toBe('ready');
    const from = ready?.type === 'ready' ? ready.pos : -1;
    expect(synced).toEqual({ type: 'synced', pos: from, cursor: String(from) });
    expect(messagesOf(frames).map((m) => m.pos)).toEqual(feed.filter((p) => p > from));
    // One position space: the cursor after each message is its position.
    for (const f of frames) if (f.type === 'message') expect(f.cursor).toBe(String(f.message.pos));
  }
  for (const s of [sender, full, ...sockets]) s.close();
}

describe('connect fast path (one server)', () => {
  let server: ServerHandle;
  beforeAll(async () => {
    // 31 sockets of one user: above the default cap of 20 per user.
    server = await startServer({ args: ['--max-connections-per-user', '100'] });
  });
  afterAll(async () => {
    await server.stop();
    server.cleanup();
  });

  it('refuses a revoked token at once though it was just used', async () => {
    const ana = await newUser(server.url);
    const laptop = await newDevice(server.url, ana.username, 'laptop');
    // Cached by login and by this connect.
    const s = await openSynced(server.url, laptop.session.token);
    await s.until((f) => f.some((x) => x.type === 'synced'));
    await ana.http.revokeDevice(laptop.session.device.id);
    await expect(RawSocket.open(server.url, laptop.session.token)).rejects.toThrow(/401/);
    await expect(laptop.http.me()).rejects.toMatchObject({ code: 'unauthorized' });
    expect(await s.waitClose()).toBe(4003);
    // Logout (revoking itself) too.
    const t = await openSynced(server.url, ana.session.token);
    await t.until((f) => f.some((x) => x.type === 'synced'));
    await ana.http.logout();
    await expect(RawSocket.open(server.url, ana.session.token)).rejects.toThrow(/401/);
  });

  it('delivers messages appended around a connect exactly once', async () => {
    await aroundConnect(server.url, [server.url]);
  });
});

const skip = await clusterUnavailable();
describe.skipIf(skip !== null)('connect fast path (cluster)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ chats: 2, shards: 2, args: ['--max-connections-per-user', '100'] });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('refuses a token revoked through another server once the revoke reaches this one', async () => {
    const ana = await newUser(cluster.api.url);
    const laptop = await newDevice(cluster.api.url, ana.username, 'laptop');
    const chat = cluster.chats[0]!.url;
    // chat-1 caches the token on this connect.
    const s = await openSynced(chat, laptop.session.token);
    await s.until((f) => f.some((x) => x.type === 'synced'));
    const again = await openSynced(chat, laptop.session.token);
    await again.until((f) => f.some((x) => x.type === 'synced'));
    again.close();
    await ana.http.revokeDevice(laptop.session.device.id);
    // The bus's revoke closes the socket on chat-1 and drops the token from its cache.
    expect(await s.waitClose()).toBe(4003);
    await expect(RawSocket.open(chat, laptop.session.token)).rejects.toThrow(/401/);
    await expect(RawSocket.open(cluster.chats[1]!.url, laptop.session.token)).rejects.toThrow(/401/);
  });

  it('delivers messages appended around a connect exactly once, across servers', async () => {
    await aroundConnect(
      cluster.api.url,
      cluster.chats.map((c) => c.url),
    );
  });
});
