/** Messages in real time: 1:1, groups, idempotency, text limits, privacy of conversation ids. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyError } from '@parley/client';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { RawSocket } from '../helpers/raw.js';
import { Recorder, eventually, newUser, openToAll } from '../helpers/sdk.js';

let server: ServerHandle;
const recorders: Recorder[] = [];
const rec = async (token: string) => {
  const r = await new Recorder(server.url, token).start();
  recorders.push(r);
  return r;
};

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  for (const r of recorders) r.stop();
  await server.stop();
  server.cleanup();
});

describe('1:1 conversations', () => {
  it('delivers both ways, in order, with acks after storing', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const conv = await ana.http.direct({ username: bob.username });
    expect((await bob.http.direct({ username: ana.username })).id).toBe(conv.id);
    const ra = await rec(ana.session.token);
    const rb = await rec(bob.session.token);
    const acks = [];
    for (let i = 1; i <= 5; i++) acks.push(await ra.client.send(conv.id, `ana ${i}`));
    for (let i = 1; i <= 5; i++) acks.push(await rb.client.send(conv.id, `bob ${i}`));
    expect(acks.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(new Set(acks.map((a) => a.id)).size).toBe(10);
    // ULIDs sort by time, like seqs.
    expect([...acks.map((a) => a.id)].sort()).toEqual(acks.map((a) => a.id));
    await eventually(
      () => ra.inConversation(conv.id).length === 10 && rb.inConversation(conv.id).length === 10,
      'delivery',
    );
    for (const r of [ra, rb])
      expect(r.inConversation(conv.id).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(rb.inConversation(conv.id)[0]).toMatchObject({ text: 'ana 1', senderId: ana.id });
    const history = await bob.http.history(conv.id, { limit: 3 });
    expect(history.messages.map((m) => m.text)).toEqual(['bob 3', 'bob 4', 'bob 5']);
    expect(history.hasMore).toBe(true);
    const list = await ana.http.conversations();
    // Ana's cursor moved with her own last send (seq 5); Bob's five are unread for her.
    expect(list.conversations[0]).toMatchObject({ id: conv.id, lastSeq: 10, unread: 5, name: bob.username });
    expect(list.conversations[0]?.lastMessage?.text).toBe('bob 5');
    const bobsView = (await bob.http.conversations()).conversations[0];
    expect(bobsView).toMatchObject({ unread: 0, readSeq: 10 });
  });

  it('counts unread from the read cursor and lists by latest activity', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const cat = await newUser(server.url);
    const ab = await ana.http.direct({ username: bob.username });
    const ac = await ana.http.direct({ username: cat.username });
    await bob.http.send(ab.id, { clientId: 'u1', text: 'one' });
    await bob.http.send(ab.id, { clientId: 'u2', text: 'two' });
    await cat.http.send(ac.id, { clientId: 'u3', text: 'newest' });
    let list = (await ana.http.conversations()).conversations;
    expect(list.map((c) => [c.id, c.unread])).toEqual([
      [ac.id, 1],
      [ab.id, 2],
    ]);
    await ana.http.read(ab.id, 1);
    list = (await ana.http.conversations()).conversations;
    expect(list.find((c) => c.id === ab.id)?.unread).toBe(1);
  });

  it('stores one message for a client id sent three times over WebSocket and HTTP', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const conv = await ana.http.direct({ username: bob.username });
    const raw = await RawSocket.open(server.url, ana.session.token);
    raw.send({ type: 'sync', since: null });
    raw.send({ type: 'send', conversationId: conv.id, clientId: 'same-id', text: 'once' });
    raw.send({ type: 'send', conversationId: conv.id, clientId: 'same-id', text: 'once' });
    const frames = await raw.until((f) => f.filter((x) => x.type === 'ack').length === 2);
    const acks = frames.filter((x) => x.type === 'ack');
    const viaHttp = await ana.http.send(conv.id, { clientId: 'same-id', text: 'once' });
    expect(acks.map((a) => (a.type === 'ack' ? [a.seq, a.duplicate] : null))).toEqual([
      [1, false],
      [1, true],
    ]);
    expect(viaHttp).toMatchObject({ seq: 1, duplicate: true });
    const history = await bob.http.history(conv.id);
    expect(history.messages.map((m) => m.text)).toEqual(['once']);
    // Delivered once too.
    const rb = await new Recorder(server.url, bob.session.token, { since: 0 }).start();
    recorders.push(rb);
    expect(rb.inConversation(conv.id).length).toBe(1);
    raw.close();
  });

  it('accepts 99,999 characters and refuses 100,000 and empty text', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const conv = await ana.http.direct({ username: bob.username });
    // Astral characters count as one code point each (two UTF-16 units).
    const max = '😀'.repeat(33_333) + 'x'.repeat(99_999 - 33_333);
    expect((await ana.http.send(conv.id, { clientId: 'max', text: max })).seq).toBe(1);
    await expect(ana.http.send(conv.id, { clientId: 'over', text: max + 'y' })).rejects.toMatchObject({
      code: 'text_too_long',
    });
    await expect(ana.http.send(conv.id, { clientId: 'empty', text: '' })).rejects.toMatchObject({
      code: 'text_empty',
    });
    const raw = await RawSocket.open(server.url, ana.session.token);
    raw.send({ type: 'send', conversationId: conv.id, clientId: 'ws-over', text: 'z'.repeat(100_000) });
    raw.send({ type: 'send', conversationId: conv.id, clientId: 'ws-ok', text: 'still usable' });
    const frames = await raw.until((f) => f.some((x) => x.type === 'ack'));
    expect(frames.find((x) => x.type === 'error')).toMatchObject({ code: 'text_too_long', ref: 'ws-over' });
    expect(frames.find((x) => x.type === 'ack')).toMatchObject({ clientId: 'ws-ok', seq: 2 });
    const stored = await bob.http.history(conv.id, { after: 0 });
    expect(stored.messages[0]?.text).toBe(max);
    raw.close();
  });

  it('answers a non-member exactly like an unknown conversation id', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const eve = await newUser(server.url);
    const conv = await ana.http.direct({ username: bob.username });
    const attempts = async (id: string) => {
      const codes: string[] = [];
      for (const call of [
        () => eve.http.send(id, { clientId: 'x', text: 'hi' }),
        () => eve.http.history(id),
        () => eve.http.members(id),
        () => eve.http.conversation(id),
        () => eve.http.read(id, 1),
      ]) {
        codes.push(
          await call().then(
            () => 'ok',
            (e: unknown) => (e instanceof ParleyError ? `${e.code}:${e.status}:${e.message}` : String(e)),
          ),
        );
      }
      return codes;
    };
    const member = await attempts(conv.id);
    const unknown = await attempts('c_doesnotexist0000');
    expect(member).toEqual(unknown);
    expect(member.every((c) => c.startsWith('not_found:404'))).toBe(true);
  });
});

describe('groups', () => {
  it('delivers every message to all 100 members and refuses the 101st', async () => {
    const users = [];
    for (let i = 0; i < 101; i += 20) {
      users.push(
        ...(await Promise.all(Array.from({ length: Math.min(20, 101 - i) }, () => newUser(server.url)))),
      );
    }
    const [admin, ...rest] = users;
    if (!admin) throw new Error('no users');
    // Strangers to the admin: they let anyone add them to groups.
    await openToAll(...rest);
    const group = await admin.http.createGroup({
      name: 'Hundred',
      members: rest.slice(0, 99).map((u) => u.username),
    });
    expect(group.memberCount).toBe(100);
    expect(group.role).toBe('admin');
    await expect(admin.http.addMembers(group.id, [rest[99]!.username])).rejects.toMatchObject({
      code: 'group_full',
    });
    const members = users.slice(0, 100);
    const rs = await Promise.all(members.map((u) => rec(u.session.token)));
    const senders = [0, 17, 42, 99];
    for (const i of senders) await rs[i]!.client.send(group.id, `from ${i}`);
    await eventually(
      () => rs.every((r) => r.inConversation(group.id).length === senders.length),
      'group delivery',
    );
    for (const r of rs) expect(r.inConversation(group.id).map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    // Too many at creation fails too.
    await expect(
      admin.http.createGroup({ name: 'Too big', members: rest.map((u) => u.username) }),
    ).rejects.toMatchObject({ code: 'group_full' });
  });

  it('lets admins add, remove and promote; anyone leaves; others get forbidden', async () => {
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => newUser(server.url)));
    if (!a || !b || !c || !d) throw new Error('users');
    await openToAll(b, c, d);
    await expect(a.http.createGroup({ name: 'solo', members: [] })).rejects.toMatchObject({
      code: 'group_too_small',
    });
    const g = await a.http.createGroup({ name: 'Team', members: [b.username, c.username] });
    await expect(b.http.addMembers(g.id, [d.username])).rejects.toMatchObject({ code: 'forbidden' });
    await a.http.addMembers(g.id, [d.username]);
    expect((await a.http.members(g.id)).members.map((m) => m.userId).sort()).toEqual(
      [a.id, b.id, c.id, d.id].sort(),
    );
    await a.http.promote(g.id, b.id);
    await b.http.removeMember(g.id, d.id);
    // A removed member keeps the group read-only: its history up to then (none here), no members.
    expect(await d.http.history(g.id)).toEqual({ messages: [], hasMore: false });
    await expect(d.http.members(g.id)).rejects.toMatchObject({ code: 'not_found' });
    await c.http.leave(g.id);
    const left = (await a.http.members(g.id)).members;
    expect(left.map((m) => [m.userId, m.role]).sort()).toEqual(
      [
        [a.id, 'admin'],
        [b.id, 'admin'],
      ].sort(),
    );
    const dm = await a.http.direct({ username: b.username });
    await expect(a.http.addMembers(dm.id, [c.username])).rejects.toMatchObject({ code: 'not_group' });
    // The last admin leaving hands the group on.
    await a.http.leave(g.id);
    await b.http.leave(g.id);
    await expect(b.http.members(g.id)).rejects.toMatchObject({ code: 'not_found' });
  });
});
