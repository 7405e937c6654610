/** Accounts and devices; multi-device sync and catch-up after time offline. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyHttp } from '@parley/client';
import type { ConnectionState, Message } from '@parley/client';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { RawSocket, api, uname } from '../helpers/raw.js';
import { Recorder, eventually, newDevice, newUser } from '../helpers/sdk.js';

let server: ServerHandle;
const recorders: Recorder[] = [];
const rec = async (token: string, since: string | number | null = null) => {
  const r = await new Recorder(server.url, token, { since }).start();
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

describe('accounts', () => {
  it('validates usernames and passwords and keeps usernames unique case-insensitively', async () => {
    const http = new ParleyHttp({ baseUrl: server.url });
    const name = uname('case');
    await http.signup({ username: name, password: 'password123', displayName: 'Case Test' });
    await expect(
      http.signup({ username: name.toUpperCase(), password: 'password123' }),
    ).rejects.toMatchObject({
      code: 'username_taken',
    });
    for (const bad of ['ab', 'has space', 'ünï', 'x'.repeat(33), 'semi;colon']) {
      await expect(http.signup({ username: bad, password: 'password123' })).rejects.toMatchObject({
        code: 'invalid_username',
      });
    }
    await expect(http.signup({ username: uname('weak'), password: 'short' })).rejects.toMatchObject({
      code: 'weak_password',
    });
    await expect(http.login({ username: name, password: 'wrong-password' })).rejects.toMatchObject({
      code: 'invalid_credentials',
    });
    await expect(http.login({ username: uname('nobody'), password: 'password123' })).rejects.toMatchObject({
      code: 'invalid_credentials',
    });
    const s = await http.login({
      username: name.toUpperCase(),
      password: 'password123',
      deviceName: 'Phone',
    });
    expect(s.token.length).toBeGreaterThanOrEqual(22); // ≥ 128 bits, base64url
    expect(s.user.displayName).toBe('Case Test');
    http.setToken(s.token);
    expect((await http.updateMe({ displayName: 'Renamed' })).displayName).toBe('Renamed');
    expect((await http.getUser(name)).displayName).toBe('Renamed');
  });

  it('never stores or logs passwords or tokens in clear', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const u = await newUser(server.url, uname('secret'));
    const files = readdirSync(server.dataDir).map((f) =>
      readFileSync(`${server.dataDir}/${f}`).toString('latin1'),
    );
    for (const content of [...files, server.output()]) {
      expect(content.includes('password123')).toBe(false);
      expect(content.includes(u.session.token)).toBe(false);
    }
  });
});

describe('devices', () => {
  it('keeps three devices of one user in sync, the sender’s other devices included', async () => {
    const ana = await newUser(server.url, uname('ana'), 'phone');
    const laptop = await newDevice(server.url, ana.username, 'laptop');
    const tab = await newDevice(server.url, ana.username, 'tab');
    const bob = await newUser(server.url);
    const conv = await ana.http.direct({ username: bob.username });
    const devices = (await ana.http.devices()).devices;
    expect(devices.map((d) => d.name).sort()).toEqual(['laptop', 'phone', 'tab']);
    expect(devices.filter((d) => d.current).map((d) => d.name)).toEqual(['phone']);
    const rs = await Promise.all([ana, laptop, tab].map((d) => rec(d.session.token)));
    const rb = await rec(bob.session.token);
    await rs[0]!.client.send(conv.id, 'from phone');
    await rs[1]!.client.send(conv.id, 'from laptop');
    await rb.client.send(conv.id, 'from bob');
    await eventually(
      () => [...rs, rb].every((r) => r.inConversation(conv.id).length === 3),
      'all devices have all',
    );
    for (const r of [...rs, rb]) {
      expect(r.inConversation(conv.id).map((m) => m.text)).toEqual(['from phone', 'from laptop', 'from bob']);
    }
    // Reading on one device reaches the others.
    const reads: number[] = [];
    rs[2]!.client.on('read', (f) => reads.push(f.seq));
    rs[0]!.client.markRead(conv.id, 3);
    await eventually(() => reads.includes(3), 'read cursor on the other device');
  });

  it('revoking a device closes its socket and its token stops working; logout too', async () => {
    const ana = await newUser(server.url, uname('rev'), 'phone');
    const laptop = await newDevice(server.url, ana.username, 'laptop');
    const sock = await RawSocket.open(server.url, laptop.session.token);
    await sock.until((f) => f.some((x) => x.type === 'ready'));
    const states: ConnectionState[] = [];
    const r = await rec(laptop.session.token);
    r.client.on('state', (s) => states.push(s));
    await ana.http.revokeDevice(laptop.session.device.id);
    // Closed at once through the bus (no polling); the bound here is generous for a loaded CI machine.
    expect(await sock.waitClose()).toBe(4003);
    await eventually(() => states.includes('closed'), 'SDK stops for a revoked device');
    await expect(laptop.http.me()).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(ana.http.revokeDevice(laptop.session.device.id)).rejects.toMatchObject({
      code: 'not_found',
    });
    expect((await ana.http.devices()).devices.map((d) => d.name)).toEqual(['phone']);
    // Another user's device answers like an unknown one.
    const eve = await newUser(server.url);
    await expect(eve.http.revokeDevice(ana.session.device.id)).rejects.toMatchObject({ code: 'not_found' });
    await ana.http.logout();
    await expect(ana.http.me()).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(RawSocket.open(server.url, ana.session.token)).rejects.toThrow(/401/);
  });
});

describe('catch-up', () => {
  it('a device offline while 1,000 messages arrive in 5 conversations gets each once, in order', async () => {
    const me = await newUser(server.url, uname('off'));
    const friends = await Promise.all([1, 2, 3, 4, 5].map(() => newUser(server.url)));
    const convs = await Promise.all(friends.map((f) => f.http.direct({ username: me.username })));
    const first = await rec(me.session.token, null);
    await friends[0]!.http.send(convs[0]!.id, { clientId: 'before', text: 'before going offline' });
    await eventually(() => first.messages.length === 1, 'first message');
    const cursor = first.client.cursor;
    first.stop();
    // 1,000 messages over HTTP while the device is away, 200 per conversation.
    await Promise.all(
      friends.map(async (f, i) => {
        for (let n = 0; n < 200; n += 50) {
          await Promise.all(
            Array.from({ length: 50 }, (_, k) =>
              f.http.send(convs[i]!.id, { clientId: `m${n + k}`, text: `${i}:${n + k}` }),
            ),
          );
        }
      }),
    );
    // Reconnect with the saved cursor, while more messages keep arriving live.
    const back = new Recorder(server.url, me.session.token, { since: cursor });
    recorders.push(back);
    const live = (async () => {
      for (let k = 0; k < 20; k++)
        await friends[k % 5]!.http.send(convs[k % 5]!.id, { clientId: `live${k}`, text: `live ${k}` });
    })();
    await back.start();
    await live;
    await eventually(() => back.messages.length === 1020, `1020 messages (have ${back.messages.length})`);
    await new Promise((r) => setTimeout(r, 200));
    expect(back.messages.length).toBe(1020);
    const byConv = new Map<string, Message[]>();
    for (const m of back.messages) byConv.set(m.conversationId, [...(byConv.get(m.conversationId) ?? []), m]);
    expect(byConv.size).toBe(5);
    for (const [id, msgs] of byConv) {
      const start = id === convs[0]!.id ? 2 : 1;
      expect(msgs.map((m) => m.seq)).toEqual(Array.from({ length: msgs.length }, (_, i) => i + start));
    }
    const ids = back.messages.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Feed order: positions only go up.
    const poss = back.messages.map((m) => m.pos);
    expect([...poss].sort((x, y) => x - y)).toEqual(poss);
  });

  it('pages the same feed over HTTP', async () => {
    const me = await newUser(server.url);
    const f = await newUser(server.url);
    const c = await f.http.direct({ username: me.username });
    for (let i = 0; i < 7; i++) await f.http.send(c.id, { clientId: `h${i}`, text: `${i}` });
    const seen: string[] = [];
    let since = '0';
    for (;;) {
      const page = await api<{ messages: Message[]; cursor: string; hasMore: boolean }>(
        server.url,
        'GET',
        `/v1/sync?since=${since}&limit=3`,
        undefined,
        me.session.token,
      );
      seen.push(...page.body.messages.map((m) => m.text));
      since = page.body.cursor;
      if (!page.body.hasMore) break;
    }
    expect(seen).toEqual(['0', '1', '2', '3', '4', '5', '6']);
  });
});
