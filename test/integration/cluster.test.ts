/**
 * Cluster mode: 1 API server and 3 chat servers on PostgreSQL and Redis. Cross-server
 * delivery, presence and typing, multi-device on different servers, discovery.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyHttp } from '@parley/client';
import type { Ack, Presence } from '@parley/client';
import { formatCursor, parseCursor } from '@parley/server';
import { clusterUnavailable, startCluster, wsOf } from '../helpers/cluster.js';
import type { Cluster } from '../helpers/cluster.js';
import { RawSocket } from '../helpers/raw.js';
import { Recorder, eventually, newDevice, newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';

/** Position spaces of a new PostgreSQL deployment. */
const SPACES = 64;

const skip = await clusterUnavailable();
let cluster: Cluster;
const recorders: Recorder[] = [];
/** A client of `u` pinned to chat server `i`. */
const on = async (u: TestUser, i: number) => {
  const r = await new Recorder(cluster.api.url, u.session.token, {
    wsUrl: () => wsOf(cluster.chats[i]!),
  }).start();
  recorders.push(r);
  return r;
};

describe.skipIf(skip !== null)('cluster', () => {
  beforeAll(async () => {
    // On a store sharded over two databases: these users' rows land on both.
    cluster = await startCluster({
      shards: 2,
      chats: 3,
      args: ['--heartbeat-ms', '200', '--heartbeat-timeout-ms', '1500'],
    });
  });
  afterAll(async () => {
    for (const r of recorders) r.stop();
    await cluster?.stop();
  });

  it('delivers 1:1 and group messages across servers, in order', async () => {
    const users = await Promise.all([0, 1, 2, 3].map(() => newUser(cluster.api.url)));
    await openToAll(...users); // strangers: no message requests
    const [a, b, c, d] = users as [TestUser, TestUser, TestUser, TestUser];
    const dm = await a.http.direct({ username: b.username });
    const g = await a.http.createGroup({ name: 'spread', members: [b.username, c.username, d.username] });
    const ra = await on(a, 0);
    const rb = await on(b, 1);
    const rc = await on(c, 2);
    const rd = await on(d, 0);
    for (let i = 0; i < 10; i++) {
      await ra.client.send(dm.id, `dm ${i}`);
      await (i % 2 ? rb : rc).client.send(g.id, `group ${i}`);
    }
    await eventually(() => rb.inConversation(dm.id).length === 10, 'b has the 1:1');
    for (const r of [ra, rb, rc, rd]) {
      await eventually(() => r.inConversation(g.id).length === 10, 'everyone has the group');
      expect(r.inConversation(g.id).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
    expect(rb.inConversation(dm.id).map((m) => m.text)).toEqual(
      Array.from({ length: 10 }, (_, i) => `dm ${i}`),
    );
  });

  it('keeps a user’s devices on different servers in sync', async () => {
    const a = await newUser(cluster.api.url);
    const b = await newUser(cluster.api.url);
    const laptop = await newDevice(cluster.api.url, a.username, 'laptop');
    const conv = await b.http.direct({ username: a.username });
    const phone = await on(a, 0);
    const lap = await on(laptop, 2);
    const rb = await on(b, 1);
    await phone.client.send(conv.id, 'from the phone');
    await rb.client.send(conv.id, 'from b');
    await eventually(() => lap.inConversation(conv.id).length === 2, 'laptop has both');
    const reads: number[] = [];
    lap.client.on('read', (r) => reads.push(r.seq));
    phone.client.markRead(conv.id, 2);
    await eventually(() => reads.includes(2), 'the read reaches the laptop');
  });

  it('delivers everything committed after ready once, in order, to a sync past the feed head', async () => {
    const me = await newUser(cluster.api.url);
    const friends = await Promise.all([0, 1].map(() => newUser(cluster.api.url)));
    const convs = await Promise.all(friends.map((f) => f.http.direct({ username: me.username })));
    // Senders on servers 0 and 1, the device on server 2: every message crosses Redis.
    const senders = await Promise.all(friends.map((f, i) => on(f, i)));
    const acks: Ack[] = [];
    const send = async (i: number, text: string) => {
      acks.push(await senders[i]!.client.send(convs[i]!.id, text));
    };
    await send(0, 'before ready');
    const s = await RawSocket.open(cluster.chats[2]!.url, me.session.token);
    const [ready] = await s.until((f) => f.some((x) => x.type === 'ready'));
    if (ready?.type !== 'ready') throw new Error(`first frame ${JSON.stringify(ready)}`);
    acks.length = 0;
    await Promise.all([send(0, 'early 0'), send(1, 'early 1')]);
    const concurrent = Promise.all(
      [0, 1].map(async (i) => {
        for (let k = 0; k < 10; k++) await send(i, `during ${i} ${k}`);
      }),
    );
    // Past the head in every space of the head (a new deployment has 64 position spaces;
    // adding a multiple of 64 keeps a position in its space).
    const head = parseCursor(ready.cursor, SPACES);
    const past = new Map([...head].map(([space, pos]) => [space, pos + 64 * 1_000_000]));
    s.send({ type: 'sync', since: formatCursor(past) });
    await concurrent;
    const ids = () => s.frames.flatMap((x) => (x.type === 'message' ? [x.message.id] : []));
    await s.until(() => ids().length >= acks.length);
    s.send({ type: 'ping', t: 2 });
    await s.until((f) => f.some((x) => x.type === 'pong'));
    expect(ids().length).toBe(acks.length);
    expect([...ids()].sort()).toEqual(acks.map((a) => a.id).sort());
    const messages = s.frames.flatMap((x) => (x.type === 'message' ? [x.message] : []));
    for (const c of convs) {
      const poss = messages.filter((m) => m.conversationId === c.id).map((m) => m.pos);
      expect(poss).toEqual([...poss].sort((x, y) => x - y));
    }
    // Nothing from before ready: every message is past the head of its space.
    for (const m of messages) expect(m.pos).toBeGreaterThan(head.get(m.pos % SPACES) ?? 0);
    s.close();
  });

  it('shares presence and typing across servers; one user on two servers is online once', async () => {
    const a = await newUser(cluster.api.url);
    const b = await newUser(cluster.api.url);
    await a.http.requestContact({ username: b.username });
    await b.http.acceptContact(a.id);
    const conv = await a.http.direct({ username: b.username });
    const rb = await on(b, 1);
    const seen: Presence[] = [];
    rb.client.on('presence', (p) => {
      if (p.userId === a.id) seen.push(p);
    });
    const a0 = await on(a, 0);
    await eventually(() => seen.some((p) => p.online), 'online across servers');
    const laptop = await newDevice(cluster.api.url, a.username);
    const a2 = await on(laptop, 2);
    a0.client.typing(conv.id);
    await eventually(() => rb.client.typingIn(conv.id).includes(a.id), 'typing across servers');
    a0.stop();
    await new Promise((r) => setTimeout(r, 2000)); // past the timeout: still online via server 3
    expect(seen.map((p) => p.online)).toEqual([true]);
    a2.stop();
    await eventually(() => seen.some((p) => !p.online), 'offline when the last device leaves');
    const [p] = (await b.http.presence([a.id])).presence;
    expect(p?.online).toBe(false);
  });

  it('discovery names the least loaded server and stops naming a dead one', async () => {
    const http = new ParleyHttp({ baseUrl: cluster.api.url });
    const extra = await cluster.addChat('chat-extra');
    // Load the other servers so the new, empty one is the least loaded.
    const u = await newUser(cluster.api.url);
    const others = await Promise.all([0, 1, 2].map(() => newDevice(cluster.api.url, u.username)));
    await Promise.all(others.map((d, i) => on(d, i)));
    await eventually(
      async () => (await http.discovery()).url === wsOf(extra),
      'the empty server is chosen',
      10_000,
    );
    // The API server refuses WebSockets: clients must go through discovery.
    await extra.kill();
    await eventually(
      async () => (await http.discovery()).url !== wsOf(extra),
      'the dead server leaves discovery within 10 s',
      10_000,
    );
    // And an SDK client that uses discovery lands on a live server.
    const r = new Recorder(cluster.api.url, u.session.token);
    recorders.push(r);
    await r.start();
    expect(r.client.state).toBe('synced');
  });
});
