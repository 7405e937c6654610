/**
 * Cluster failures under traffic, each judged by the same checker (helpers/checker.ts):
 * SIGKILL of a chat server, Redis restart, PostgreSQL restart, one shard's PostgreSQL
 * stopped, SIGTERM drain. The Redis and PostgreSQL that fail are the test's own instances, so
 * they can be stopped and started again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Ack } from '@parley/client';
import { check, summary } from '../helpers/checker.js';
import type { SentRecord } from '../helpers/checker.js';
import { shardOfKey } from '@parley/server';
import { clusterUnavailable, startCluster } from '../helpers/cluster.js';
import type { Cluster } from '../helpers/cluster.js';
import { ownServicesUnavailable, startOwnPostgres, startOwnRedis } from '../helpers/own-services.js';
import type { OwnPostgres, OwnRedis } from '../helpers/own-services.js';
import { Recorder, eventually, newUser, openToAll } from '../helpers/sdk.js';
import { createTestDatabase } from '../helpers/services.js';
import type { TestUser } from '../helpers/sdk.js';

const own = ownServicesUnavailable();
if (own && process.env.PARLEY_REQUIRE_SERVICES) throw new Error(`cluster fault tests: ${own}`);
if (own) console.warn(`skipped: ${own}`);
const skip = (await clusterUnavailable()) ?? own;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

interface Traffic {
  users: TestUser[];
  clients: Recorder[];
  members: Map<string, string[]>;
  sent: SentRecord[];
  /** Resolves when every send is acked. */
  done: Promise<void>;
  acked(): number;
  /** Clients that lost their connection at least once. */
  reconnected(): number;
}

/** `pairs` 1:1s and `groups` groups of `groupSize`, every client sending `perClient` messages. */
async function traffic(
  cluster: Cluster,
  opts: { pairs: number; groups: number; groupSize: number; perClient: number },
): Promise<Traffic> {
  const n = opts.pairs * 2 + opts.groups * opts.groupSize;
  const users: TestUser[] = [];
  for (let i = 0; i < n; i += 25) {
    users.push(
      ...(await Promise.all(Array.from({ length: Math.min(25, n - i) }, () => newUser(cluster.api.url)))),
    );
  }
  // Strangers: plain chats and groups, no message requests.
  await Promise.all(users.map((u) => openToAll(u)));
  const members = new Map<string, string[]>();
  const convOf: string[] = [];
  for (let p = 0; p < opts.pairs; p++) {
    const [a, b] = [users[2 * p]!, users[2 * p + 1]!];
    const c = await a.http.direct({ username: b.username });
    members.set(c.id, [a.id, b.id]);
    convOf.push(c.id, c.id);
  }
  for (let g = 0; g < opts.groups; g++) {
    const base = opts.pairs * 2 + g * opts.groupSize;
    const group = users.slice(base, base + opts.groupSize);
    const c = await group[0]!.http.createGroup({
      name: `g${g}`,
      members: group.slice(1).map((u) => u.username),
    });
    members.set(
      c.id,
      group.map((u) => u.id),
    );
    for (let i = 0; i < group.length; i++) convOf.push(c.id);
  }
  const clients: Recorder[] = [];
  for (let i = 0; i < n; i += 50) {
    clients.push(
      ...(await Promise.all(
        users.slice(i, i + 50).map((u) => new Recorder(cluster.api.url, u.session.token).start()),
      )),
    );
  }
  cleanups.push(async () => clients.forEach((c) => c.stop()));
  const dropped = new Set<number>();
  clients.forEach((c, i) =>
    c.client.on('state', (st) => {
      if (st === 'reconnecting') dropped.add(i);
    }),
  );
  const sent: SentRecord[] = [];
  let acked = 0;
  const done = Promise.all(
    clients.map(async (r, i) => {
      const pending: Promise<void>[] = [];
      for (let k = 0; k < opts.perClient; k++) {
        const rec: SentRecord = { clientId: `m${i}-${k}`, conversationId: convOf[i]! };
        sent.push(rec);
        pending.push(
          r.client
            .send(rec.conversationId, `message ${k} from ${i}`, { clientId: rec.clientId })
            .then((a: Ack) => {
              rec.ack = a;
              acked++;
            }),
        );
        await new Promise((res) => setTimeout(res, 40 + Math.random() * 40));
      }
      await Promise.all(pending);
    }),
  ).then(() => undefined);
  return { users, clients, members, sent, done, acked: () => acked, reconnected: () => dropped.size };
}

/** Open WebSocket connections of a server, from its metrics. */
async function connectionsOf(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^parley_connections (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** Wait for every ack, then for every client to have everything; the checker must be clean. */
async function settle(t: Traffic, what: string): Promise<void> {
  await t.done;
  const report = () =>
    check(
      t.sent,
      t.clients.map((c, i) => ({ name: `client${i}`, userId: t.users[i]!.id, received: c.messages })),
      t.members,
    );
  await eventually(
    () => report().lost.length === 0,
    () => `${what}: ${summary(report())}`,
    30_000,
  );
  await new Promise((r) => setTimeout(r, 300)); // anything late would show up as a duplicate
  const r = report();
  expect(r.lost, summary(r)).toEqual([]);
  expect(r.duplicated, summary(r)).toEqual([]);
  expect(r.unexpected).toEqual([]);
  expect(r.outOfOrder).toEqual([]);
  expect(r.mismatched).toEqual([]);
  expect(r.delivered).toBe(r.expected);
  expect(t.clients.every((c) => c.client.pending === 0)).toBe(true);
}

describe.skipIf(skip !== null)('cluster faults', () => {
  it('SIGKILL of one of three chat servers: 200 clients lose nothing and duplicate nothing', async () => {
    const cluster = await startCluster({ chats: 3 });
    cleanups.push(() => cluster.stop());
    const t = await traffic(cluster, { pairs: 50, groups: 10, groupSize: 10, perClient: 12 });
    await eventually(
      () => t.acked() >= t.sent.length / 4 && t.sent.length > 600,
      'traffic under way',
      30_000,
    );
    // Kill the busiest chat server.
    const loads = await Promise.all(cluster.chats.map((c) => connectionsOf(c.url)));
    const victim = loads.indexOf(Math.max(...loads));
    expect(loads[victim]).toBeGreaterThan(0);
    await cluster.chats[victim]!.kill();
    await settle(t, 'after SIGKILL');
    // Every client of the killed server lost its connection and came back elsewhere.
    expect(t.reconnected()).toBeGreaterThanOrEqual(loads[victim]!);
  });

  it('Redis restart in the middle of traffic: delivery resumes and nothing is lost', async () => {
    const redis: OwnRedis = await startOwnRedis();
    cleanups.push(() => redis.stop());
    const cluster = await startCluster({ chats: 2, redis: redis.url });
    cleanups.push(() => cluster.stop());
    const t = await traffic(cluster, { pairs: 20, groups: 4, groupSize: 5, perClient: 15 });
    await eventually(() => t.acked() >= 150, 'traffic under way', 30_000);
    await redis.kill();
    await new Promise((r) => setTimeout(r, 1000));
    await redis.start();
    await settle(t, 'after the Redis restart');
    // The outage hit the traffic: remote deliveries were dropped and recovered from the store.
    expect(cluster.chats.some((c) => c.output().includes('their users recheck later'))).toBe(true);
    // Presence is rebuilt from heartbeats: a connected partner shows online again.
    const [a, b] = [t.users[0]!, t.users[1]!];
    await a.http.setPrivacy({ online: 'everyone' }); // b is a 1:1 partner, not a contact
    await eventually(
      async () => (await b.http.presence([a.id])).presence[0]?.online === true,
      'presence rebuilt after the Redis restart',
      20_000,
    );
  });

  it('PostgreSQL restart in the middle of traffic: retryable errors, then everything once', async () => {
    const pg: OwnPostgres = await startOwnPostgres(2);
    cleanups.push(() => pg.stop());
    const cluster = await startCluster({ chats: 2, db: pg.urls });
    cleanups.push(() => cluster.stop());
    const t = await traffic(cluster, { pairs: 20, groups: 4, groupSize: 5, perClient: 15 });
    await eventually(() => t.acked() >= 150, 'traffic under way', 30_000);
    await pg.restart(1500);
    await settle(t, 'after the PostgreSQL restart');
    // Sends did fail during the outage (and were retried): never a false ack.
    expect(cluster.chats.some((c) => c.output().includes('store write failed'))).toBe(true);
  });

  it("one shard's PostgreSQL stopped under traffic: the other shard keeps working, then everything once", async () => {
    const own: OwnPostgres = await startOwnPostgres();
    cleanups.push(() => own.stop());
    const first = await createTestDatabase();
    cleanups.push(() => first.drop());
    const cluster = await startCluster({ chats: 2, db: [first.url, own.url] });
    cleanups.push(() => cluster.stop());
    const t = await traffic(cluster, { pairs: 20, groups: 4, groupSize: 5, perClient: 60 });
    // A new deployment has 64 logical shards: 0-31 on the first database, 32-63 on the second.
    const onFirst = (conversationId: string) => shardOfKey(conversationId, 64) < 32;
    const ackedOnFirst = () => t.sent.filter((r) => r.ack && onFirst(r.conversationId)).length;
    expect(new Set([...t.members.keys()].map(onFirst))).toEqual(new Set([true, false]));
    await eventually(() => t.acked() >= 150, 'traffic under way', 30_000);
    own.down();
    const before = ackedOnFirst();
    await eventually(
      () => ackedOnFirst() >= before + 100,
      () => `conversations on the first database: ${ackedOnFirst() - before} acked since the stop`,
      20_000,
    );
    own.up();
    await settle(t, "after the shard's restart");
    // Sends to the stopped shard failed meanwhile (and were retried): never a false ack.
    expect(cluster.chats.some((c) => c.output().includes('store write failed'))).toBe(true);
  });

  it('SIGTERM drains a chat server: its clients move without losing anything', async () => {
    const cluster = await startCluster({ chats: 3 });
    cleanups.push(() => cluster.stop());
    const t = await traffic(cluster, { pairs: 20, groups: 4, groupSize: 5, perClient: 12 });
    await eventually(() => t.acked() >= 100, 'traffic under way', 30_000);
    const exit = await cluster.chats[0]!.stop();
    expect(exit).toBe(0);
    await settle(t, 'after the drain');
    expect(t.reconnected()).toBeGreaterThan(5);
  });
});
