/**
 * Limits per user, not per socket: a second socket of the same user shares the send bucket;
 * every frame type counts against a socket's frame rate; sockets and devices per user are
 * capped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversation, ServerFrame, Session } from '@parley/protocol';
import { RawSocket, account, api, uname } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';

let server: ServerHandle;

beforeAll(async () => {
  server = await startServer({
    args: ['--max-connections-per-user', '3', '--max-devices-per-user', '4'],
  });
});

afterAll(async () => {
  await server.stop();
  server.cleanup();
});

async function pair(): Promise<{ a: Session; b: Session; conv: Conversation }> {
  const a = await account(server.url);
  const b = await account(server.url);
  await api(server.url, 'POST', '/v1/contacts', { userId: b.user.id }, a.token);
  await api(server.url, 'POST', `/v1/contacts/${a.user.id}/accept`, undefined, b.token);
  const conv = (
    await api<Conversation>(server.url, 'POST', '/v1/conversations/direct', { userId: b.user.id }, a.token)
  ).body;
  return { a, b, conv };
}

async function live(token: string): Promise<RawSocket> {
  const s = await RawSocket.open(server.url, token);
  s.send({ type: 'sync', since: null });
  await s.until((f) => f.some((x) => x.type === 'synced'));
  return s;
}

const count = (frames: ServerFrame[], pred: (f: ServerFrame) => boolean) => frames.filter(pred).length;
const answered = (n: number) => (f: ServerFrame[]) =>
  count(f, (x) => x.type === 'ack' || (x.type === 'error' && x.ref !== undefined)) >= n;
const limited = (x: ServerFrame) => x.type === 'error' && x.code === 'rate_limited';

describe('per-user send rate', () => {
  it('a second socket of the same user does not get a fresh burst', async () => {
    const { a, conv } = await pair();
    const second = await account(server.url, a.user.username);
    const s1 = await live(a.token);
    const s2 = await live(second.token);
    for (let i = 0; i < 200; i++)
      s1.send({ type: 'send', conversationId: conv.id, clientId: `a-${i}`, text: 'x' });
    await s1.until(answered(200), 30_000);
    for (let i = 0; i < 100; i++)
      s2.send({ type: 'send', conversationId: conv.id, clientId: `b-${i}`, text: 'y' });
    await s2.until(answered(100), 30_000);
    const acks2 = count(s2.frames, (x) => x.type === 'ack');
    const limited2 = count(s2.frames, limited);
    console.log(
      `socket 1: ${count(s1.frames, (x) => x.type === 'ack')} acks; socket 2: ${acks2} acks, ${limited2} rate_limited`,
    );
    // Per socket, the second one had a whole burst of 200 and acked all 100.
    expect(limited2).toBeGreaterThan(0);
    expect(acks2).toBeLessThan(100);
    s1.close();
    s2.close();
  });
});

describe('frame rate', () => {
  it('1,000 read and 1,000 delivered frames are held to the frame rate; a canary user is unaffected', async () => {
    const { a, b, conv } = await pair();
    const abuser = await live(a.token);
    for (let i = 0; i < 1000; i++) {
      abuser.send({ type: 'read', conversationId: `c_made_up_${i}`, seq: 1 });
      abuser.send({ type: 'delivered', conversationId: `c_made_up_${i}`, seq: 1 });
    }
    // Over the rate a send is refused outright.
    abuser.send({ type: 'send', conversationId: conv.id, clientId: 'over', text: 'hi' });
    await abuser.until((f) => f.some((x) => x.type === 'error' && x.ref === 'over'), 10_000);
    expect(abuser.frames.find((x) => x.type === 'error' && x.ref === 'over')).toMatchObject({
      code: 'rate_limited',
    });
    // The canary (the other user) sends and is delivered to as usual.
    const canary = await live(b.token);
    canary.send({ type: 'send', conversationId: conv.id, clientId: 'canary', text: 'still here' });
    await canary.until((f) => f.some((x) => x.type === 'ack'), 10_000);
    expect(canary.frames.some((x) => x.type === 'error')).toBe(false);
    // Reads past the rate were coalesced, not each answered: far fewer than 1,000 not_found.
    await new Promise((r) => setTimeout(r, 1500));
    const notFound = count(abuser.frames, (x) => x.type === 'error' && x.code === 'not_found');
    console.log(`1,000 reads of made-up conversations: ${notFound} not_found answers (was 1,000)`);
    expect(notFound).toBeLessThan(500);
    const health = await fetch(`${server.url}/readyz`);
    expect(health.status).toBe(200);
    abuser.close();
    canary.close();
  });
});

describe('caps per user', () => {
  it('refuses one WebSocket more than the per-user cap, over all devices', async () => {
    const a = await account(server.url);
    const d2 = await account(server.url, a.user.username);
    const sockets = [await live(a.token), await live(a.token), await live(d2.token)];
    const refused = await RawSocket.open(server.url, d2.token).then(
      (s) => {
        s.close();
        return 'opened';
      },
      (err: Error) => err.message,
    );
    expect(refused).toContain('429');
    for (const s of sockets) s.close();
  });

  it('signs out the device used longest ago when a login passes the device cap', async () => {
    const username = uname();
    const first = await account(server.url, username);
    const others: string[] = [];
    for (let i = 0; i < 3; i++) others.push((await account(server.url, username)).token);
    const fifth = await api<Session>(server.url, 'POST', '/v1/sessions', {
      username,
      password: 'password123',
      deviceName: 'fifth',
    });
    expect(fifth.status).toBe(201);
    // The oldest device's token stopped working; every other one still works.
    expect((await api(server.url, 'GET', '/v1/me', undefined, first.token)).status).toBe(401);
    for (const token of [...others, fifth.body.token]) {
      expect((await api(server.url, 'GET', '/v1/me', undefined, token)).status).toBe(200);
    }
    const list = await api<{ devices: unknown[] }>(
      server.url,
      'GET',
      '/v1/devices',
      undefined,
      fifth.body.token,
    );
    expect(list.body.devices).toHaveLength(4);
  });
});
