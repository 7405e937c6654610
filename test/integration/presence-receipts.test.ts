/**
 * Presence (heartbeats shortened to 100 ms, timeout 600 ms), receipts, typing, contacts and
 * blocking, over the real server with SDK clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Presence } from '@parley/client';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { RawSocket } from '../helpers/raw.js';
import { Recorder, eventually, newDevice, newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';

let server: ServerHandle;
const recorders: Recorder[] = [];
const rec = async (u: TestUser) => {
  const r = await new Recorder(server.url, u.session.token).start();
  recorders.push(r);
  return r;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  server = await startServer({
    args: [
      '--heartbeat-ms',
      '100',
      '--heartbeat-timeout-ms',
      '600',
      '--receipt-flush-ms',
      '50',
      '--typing-ttl-ms',
      '300',
    ],
  });
});
afterAll(async () => {
  for (const r of recorders) r.stop();
  await server.stop();
  server.cleanup();
});

async function contacts(a: TestUser, b: TestUser): Promise<void> {
  expect((await a.http.requestContact({ username: b.username })).state).toBe('outgoing');
  expect((await b.http.acceptContact(a.id)).state).toBe('accepted');
}

/** Presence events `watcher` received about `userId`. */
function presenceLog(r: Recorder, userId: string): Presence[] {
  const log: Presence[] = [];
  r.client.on('presence', (p) => {
    if (p.userId === userId) log.push(p);
  });
  return log;
}

describe('contacts', () => {
  it('requests, accepts, declines and removes, with live events', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => newUser(server.url)));
    const rb = await rec(b!);
    const events: string[] = [];
    rb.client.on('contact', (e) => events.push(`${e.user.username}:${e.state}`));
    await a!.http.requestContact({ username: b!.username });
    await eventually(() => events.includes(`${a!.username}:incoming`), 'request event');
    let list = await b!.http.contacts();
    expect(list.incoming.map((u) => u.id)).toEqual([a!.id]);
    expect((await a!.http.contacts()).outgoing.map((u) => u.id)).toEqual([b!.id]);
    await b!.http.acceptContact(a!.id);
    list = await b!.http.contacts();
    expect(list.contacts.map((x) => x.user.id)).toEqual([a!.id]);
    expect(list.incoming).toEqual([]);
    // Asking someone who already asked me accepts at once.
    await c!.http.requestContact({ username: a!.username });
    expect((await a!.http.requestContact({ userId: c!.id })).state).toBe('accepted');
    await a!.http.removeContact(c!.id);
    expect((await c!.http.contacts()).contacts).toEqual([]);
    await c!.http.requestContact({ username: b!.username });
    expect((await b!.http.declineContact(c!.id)).state).toBe('none');
    await expect(b!.http.acceptContact(c!.id)).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('presence', () => {
  it('goes online on connect and offline after the heartbeat timeout, with last seen', async () => {
    const [a, b] = await Promise.all([1, 2].map(() => newUser(server.url)));
    await contacts(a!, b!);
    const rb = await rec(b!);
    const seen = presenceLog(rb, a!.id);
    const sock = await RawSocket.open(server.url, a!.session.token);
    await eventually(() => seen.some((p) => p.online), 'online');
    // Drop the connection without a close frame: offline only once the timeout passes.
    sock.ws.terminate();
    await eventually(() => seen.some((p) => !p.online), 'offline after timeout');
    const last = seen[seen.length - 1]!;
    expect(last.lastActiveAt).toEqual(expect.any(Number));
    const [p] = (await b!.http.presence([a!.id])).presence;
    expect(p).toMatchObject({ userId: a!.id, online: false, lastActiveAt: last.lastActiveAt });
    expect((await b!.http.contacts()).contacts[0]?.presence.online).toBe(false);
  });

  it('goes offline at once on logout and on a clean close', async () => {
    const slow = await startServer({ args: ['--heartbeat-timeout-ms', '60000'] });
    try {
      const a = await newUser(slow.url);
      const b = await newUser(slow.url);
      await openToAll(a); // a plain 1:1, not a message request
      await b.http.direct({ username: a.username }); // a 1:1 partner also gets presence…
      await a.http.setPrivacy({ online: 'everyone' }); // …when a shows it to everyone
      const rb = await new Recorder(slow.url, b.session.token).start();
      const seen = presenceLog(rb, a.id);
      const ra = await new Recorder(slow.url, a.session.token).start();
      await eventually(() => seen.some((p) => p.online), 'online');
      ra.stop(); // close 1000: offline now, not in 60 s
      await eventually(() => seen.some((p) => !p.online), 'offline on clean close');
      const laptop = await newDevice(slow.url, a.username);
      const rl = await new Recorder(slow.url, laptop.session.token).start();
      await eventually(() => seen.filter((p) => p.online).length === 2, 'online again');
      await laptop.http.logout();
      await eventually(() => seen.filter((p) => !p.online).length === 2, 'offline on logout');
      rl.stop();
      rb.stop();
    } finally {
      await slow.stop();
      slow.cleanup();
    }
  });

  it('persists last seen across a restart', async () => {
    const own = await startServer();
    let again: ServerHandle | undefined;
    try {
      const a = await newUser(own.url);
      const b = await newUser(own.url);
      await openToAll(b); // a plain 1:1, not a message request
      await a.http.direct({ username: b.username });
      await a.http.setPrivacy({ online: 'everyone', lastSeen: 'everyone' });
      const ra = await new Recorder(own.url, a.session.token).start();
      ra.stop();
      await eventually(async () => (await b.http.presence([a.id])).presence[0]?.online === false, 'offline');
      const before = (await b.http.presence([a.id])).presence[0]?.lastActiveAt;
      expect(before).toEqual(expect.any(Number));
      await own.stop(); // flushes the batched last-active times
      again = await startServer({ dataDir: own.dataDir });
      const { ParleyHttp } = await import('@parley/client');
      const http = new ParleyHttp({ baseUrl: again.url, token: b.session.token });
      expect((await http.presence([a.id])).presence).toEqual([
        { userId: a.id, online: false, lastActiveAt: before },
      ]);
    } finally {
      await again?.stop();
      own.cleanup();
    }
  });

  it('does not flap when a device reconnects within the grace period', async () => {
    const [a, b] = await Promise.all([1, 2].map(() => newUser(server.url)));
    await contacts(a!, b!);
    const rb = await rec(b!);
    const seen = presenceLog(rb, a!.id);
    const first = await RawSocket.open(server.url, a!.session.token);
    await eventually(() => seen.some((p) => p.online), 'online');
    first.ws.terminate(); // a network blip or page reload
    const second = await RawSocket.open(server.url, a!.session.token);
    // Keep heartbeating well past the timeout.
    for (let i = 0; i < 12; i++) {
      second.send({ type: 'ping' });
      await sleep(100);
    }
    expect(seen.map((p) => p.online)).toEqual([true]);
    second.close();
  });

  it('shows presence to contacts and partners only, never to strangers or blocked users', async () => {
    const [a, friend, partner, stranger, coMember, blocked] = await Promise.all(
      [1, 2, 3, 4, 5, 6].map(() => newUser(server.url)),
    );
    await a!.http.setPrivacy({ online: 'everyone', lastSeen: 'everyone' }); // partners too
    await openToAll(a!); // the partner's 1:1 and the co-member's group need no consent
    await contacts(a!, friend!);
    await partner!.http.direct({ username: a!.username });
    await contacts(a!, blocked!);
    await blocked!.http.direct({ username: a!.username });
    await a!.http.block({ username: blocked!.username });
    await coMember!.http.createGroup({ name: 'g', members: [a!.username] });
    const watchers = await Promise.all([friend, partner, stranger, coMember, blocked].map((u) => rec(u!)));
    const logs = watchers.map((w) => presenceLog(w, a!.id));
    const ra = await rec(a!);
    await eventually(
      () => logs[0]!.length > 0 && logs[1]!.length > 0,
      'contact and partner see a come online',
    );
    await sleep(300);
    expect(logs[2]).toEqual([]); // stranger
    expect(logs[3]).toEqual([]); // group co-member: no fan-out
    expect(logs[4]).toEqual([]); // blocked
    expect((await stranger!.http.presence([a!.id])).presence).toEqual([]);
    expect((await blocked!.http.presence([a!.id])).presence).toEqual([]);
    // The group member fetches on demand.
    expect((await coMember!.http.presence([a!.id])).presence).toMatchObject([
      { userId: a!.id, online: true },
    ]);
    const tooMany = Array.from({ length: 101 }, (_, i) => `u_${i}`);
    await expect(coMember!.http.presence(tooMany)).rejects.toMatchObject({ code: 'too_many_ids' });
    ra.stop();
  });
});

describe('receipts', () => {
  it('1:1: sent → delivered → read, live and after a reconnect', async () => {
    const [a, b] = await Promise.all([1, 2].map(() => newUser(server.url)));
    const conv = await a!.http.direct({ username: b!.username });
    const ra = await rec(a!);
    const cursors: Array<{ userId: string; deliveredSeq: number; readSeq: number }> = [];
    ra.client.on('receipts', (r) => cursors.push(...r.cursors));
    const ack = await ra.client.send(conv.id, 'are you there?');
    expect(ack.seq).toBe(1); // sent (stored)
    const rb = await rec(b!); // b connects later: delivered on catch-up?
    await rb.client.send(conv.id, 'warming up'); // seq 2
    const late = new Recorder(server.url, b!.session.token, { since: 0 });
    recorders.push(late);
    await late.start();
    await eventually(() => cursors.some((c) => c.userId === b!.id && c.deliveredSeq >= 1), 'delivered');
    rb.client.markRead(conv.id, 1);
    await eventually(() => cursors.some((c) => c.userId === b!.id && c.readSeq >= 1), 'read');
    ra.stop();
    const again = await a!.http.conversation(conv.id);
    expect(again.peerDeliveredSeq).toBeGreaterThanOrEqual(1);
    expect(again.peerReadSeq).toBeGreaterThanOrEqual(1);
  });

  it('groups: delivered and read counts per message, and who read on demand', async () => {
    const users = await Promise.all(Array.from({ length: 10 }, () => newUser(server.url)));
    const [sender, ...others] = users;
    await openToAll(...others);
    const g = await sender!.http.createGroup({ name: 'ten', members: others.map((u) => u.username) });
    const rs = await Promise.all(users.map((u) => rec(u)));
    const latest = new Map<string, { userId: string; deliveredSeq: number; readSeq: number }>();
    rs[0]!.client.on('receipts', (r) => {
      for (const c of r.cursors) latest.set(c.userId, c);
    });
    const ack = await rs[0]!.client.send(g.id, 'hello ten');
    await eventually(
      () => others.every((o) => (latest.get(o.id)?.deliveredSeq ?? 0) >= ack.seq),
      'all nine delivered',
    );
    for (const r of rs.slice(1, 5)) r.client.markRead(g.id, ack.seq);
    await eventually(
      () => [...latest.values()].filter((c) => c.userId !== sender!.id && c.readSeq >= ack.seq).length === 4,
      () => `four read: ${JSON.stringify([...latest.entries()])}`,
    );
    const who = await others[0]!.http.receipts(g.id, ack.seq);
    expect(who.delivered.sort()).toEqual(others.map((o) => o.id).sort());
    expect(who.read.sort()).toEqual(
      others
        .slice(0, 4)
        .map((o) => o.id)
        .sort(),
    );
    const members = (await sender!.http.members(g.id)).members;
    expect(members.filter((m) => m.userId !== sender!.id && m.readSeq >= ack.seq).length).toBe(4);
  });

  it('reading on one device clears the unread badge on the other', async () => {
    const [a, b] = await Promise.all([1, 2].map(() => newUser(server.url)));
    const conv = await b!.http.direct({ username: a!.username });
    const phone = await rec(a!);
    const laptopUser = await newDevice(server.url, a!.username, 'laptop');
    const laptop = await rec(laptopUser);
    const reads: number[] = [];
    laptop.client.on('read', (r) => reads.push(r.seq));
    for (let i = 0; i < 3; i++) await b!.http.send(conv.id, { clientId: `r${i}`, text: `unread ${i}` });
    expect((await a!.http.conversation(conv.id)).unread).toBe(3);
    await eventually(() => phone.inConversation(conv.id).length === 3, 'phone has them');
    phone.client.markRead(conv.id, 3);
    await eventually(() => reads.includes(3), 'laptop hears the read');
    expect((await laptopUser.http.conversation(conv.id)).unread).toBe(0);
  });
});

describe('typing', () => {
  it('reaches the other online members, expires, and a flood is rate-limited', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => newUser(server.url)));
    await openToAll(b!, c!);
    const g = await a!.http.createGroup({ name: 'typers', members: [b!.username, c!.username] });
    const [ra, rb, rc] = await Promise.all([a, b, c].map((u) => rec(u!)));
    const typingB: string[][] = [];
    rb!.client.on('typing', (t) => typingB.push(t.userIds));
    let typingSelf = 0;
    ra!.client.on('typing', () => typingSelf++);
    ra!.client.typing(g.id);
    await eventually(() => typingB.some((ids) => ids.includes(a!.id)), 'b sees a typing');
    expect(rc!.client.typingIn(g.id)).toEqual([a!.id]);
    await eventually(() => rb!.client.typingIn(g.id).length === 0, 'indicator expires');
    expect(typingSelf).toBe(0);
    // A flood from a raw socket: most frames are dropped silently.
    const raw = await RawSocket.open(server.url, a!.session.token);
    let count = 0;
    rc!.client.on('typing', (t) => {
      if (t.userIds.includes(a!.id)) count++;
    });
    for (let i = 0; i < 50; i++) raw.send({ type: 'typing', conversationId: g.id });
    raw.send({ type: 'ping', t: 7 });
    await raw.until((f) => f.some((x) => x.type === 'pong'));
    await sleep(200);
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThan(10);
    expect(raw.frames.filter((x) => x.type === 'error')).toEqual([]);
    raw.close();
  });
});

describe('blocking', () => {
  it('refuses each blocked action with its error code, and unblocking restores them', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => newUser(server.url)));
    await openToAll(c!);
    const dm = await b!.http.direct({ username: a!.username });
    await a!.http.block({ username: b!.username });
    expect((await a!.http.contacts()).blocked.map((u) => u.id)).toEqual([b!.id]);
    await expect(b!.http.send(dm.id, { clientId: 'x1', text: 'hi' })).rejects.toMatchObject({
      code: 'blocked',
    });
    await expect(a!.http.send(dm.id, { clientId: 'x2', text: 'hi' })).rejects.toMatchObject({
      code: 'blocked',
    });
    const fresh = await newUser(server.url);
    await fresh.http.block({ username: b!.username });
    await expect(b!.http.direct({ username: fresh.username })).rejects.toMatchObject({ code: 'blocked' });
    await expect(
      b!.http.createGroup({ name: 'g', members: [a!.username, c!.username] }),
    ).rejects.toMatchObject({
      code: 'blocked',
    });
    const g = await b!.http.createGroup({ name: 'g2', members: [c!.username] });
    await expect(b!.http.addMembers(g.id, [a!.username])).rejects.toMatchObject({ code: 'blocked' });
    // A blocked user's contact request goes nowhere.
    await b!.http.requestContact({ username: a!.username });
    expect((await a!.http.contacts()).incoming).toEqual([]);
    await a!.http.unblock(b!.id);
    expect((await b!.http.send(dm.id, { clientId: 'x3', text: 'hi again' })).seq).toBe(1);
    await expect(a!.http.unblock(b!.id)).rejects.toMatchObject({ code: 'not_found' });
  });
});
