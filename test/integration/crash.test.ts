/**
 * Durability: SIGKILL the server while 20 clients send with retries, restart it on the same
 * data dir. Every acked message is stored exactly once, no conversation's sequence has a gap,
 * and the clients' outboxes finish.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Ack, Conversation } from '@parley/client';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { Recorder, eventually, newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';

let server: ServerHandle | undefined;
const recorders: Recorder[] = [];

afterAll(async () => {
  for (const r of recorders) r.stop();
  await server?.stop();
  server?.cleanup();
});

describe('SIGKILL', () => {
  it('loses no acked message and stores none twice', async () => {
    server = await startServer();
    const { dataDir, port } = server;
    const users: TestUser[] = await Promise.all(Array.from({ length: 20 }, () => newUser(server!.url)));
    await openToAll(...users);
    const convs: Conversation[] = [];
    for (let i = 0; i < 20; i += 2)
      convs.push(await users[i]!.http.direct({ username: users[i + 1]!.username }));
    const group = await users[0]!.http.createGroup({
      name: 'crash group',
      members: users.slice(1).map((u) => u.username),
    });
    const clients = await Promise.all(users.map((u) => new Recorder(server!.url, u.session.token).start()));
    recorders.push(...clients);

    const PER_CLIENT = 60;
    const acks: Ack[] = [];
    // Killed from the 300th ack itself: polling for it could let every send finish first.
    const live = server;
    let killed: Promise<void> | undefined;
    const onAck = (a: Ack) => {
      acks.push(a);
      if (acks.length === 300) killed = live.kill();
    };
    const sent: Array<{ conv: string; clientId: string }> = [];
    const sending = clients.map(async (r, i) => {
      const conv = convs[Math.floor(i / 2)]!.id;
      const pending: Promise<void>[] = [];
      for (let n = 0; n < PER_CLIENT; n++) {
        const target = n % 3 === 0 ? group.id : conv;
        const clientId = `c${i}-${n}`;
        sent.push({ conv: target, clientId });
        pending.push(r.client.send(target, `message ${n} from ${i}`, { clientId }).then(onAck));
        if (n % 5 === 4) await new Promise((res) => setTimeout(res, 5));
      }
      await Promise.all(pending);
    });

    await eventually(() => killed !== undefined, 'the 300th ack');
    await killed;
    const ackedBeforeKill = acks.length;
    server = await startServer({ dataDir, port });
    await Promise.all(sending);
    expect(acks.length).toBe(20 * PER_CLIENT);
    expect(ackedBeforeKill).toBeLessThan(20 * PER_CLIENT);
    for (const r of clients) expect(r.client.pending).toBe(0);

    // The store: every conversation is 1..n with no gap, every client id exactly once.
    const reader = users[0]!;
    const stored = new Map<string, { seq: number; id: string }>();
    for (const c of [group, ...convs]) {
      const member = c.id === group.id ? reader : users[convs.indexOf(c) * 2]!;
      const seqs: number[] = [];
      let after = 0;
      for (;;) {
        const page = await member.http.history(c.id, { after, limit: 200 });
        for (const m of page.messages) {
          seqs.push(m.seq);
          expect(stored.has(m.clientId), `stored twice: ${m.clientId}`).toBe(false);
          stored.set(m.clientId, { seq: m.seq, id: m.id });
        }
        if (!page.hasMore) break;
        after = page.messages[page.messages.length - 1]!.seq;
      }
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    }
    expect(stored.size).toBe(sent.length);
    for (const a of acks) expect(stored.get(a.clientId)).toEqual({ seq: a.seq, id: a.id });

    // Every client converges on every message of its conversations, once each.
    await eventually(
      () =>
        clients.every(
          (r, i) =>
            r.inConversation(convs[Math.floor(i / 2)]!.id).length === 2 * (PER_CLIENT - PER_CLIENT / 3),
        ),
      'clients caught up after the restart',
    );
    for (const r of clients) {
      const ids = r.messages.map((m) => m.id);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });
});
