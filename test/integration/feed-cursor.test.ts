/**
 * The feed cursor end to end, on a server with one position space: every message frame,
 * `ready` and `synced` carry the device's cursor; a device resumes from the cursor string, and
 * from a feed position kept by an older client version, with exactly what it missed; the SDK
 * keeps the cursor as a string; `GET /v1/sync` takes and answers cursors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, ServerFrame, SyncPage } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { RawSocket, api } from '../helpers/raw.js';
import { Recorder, eventually, newUser } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';

let server: ServerHandle;
const recorders: Recorder[] = [];

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  for (const r of recorders) r.stop();
  await server.stop();
  server.cleanup();
});

type MessageFrameSeen = Extract<ServerFrame, { type: 'message' }>;
const messageFrames = (frames: ServerFrame[]): MessageFrameSeen[] =>
  frames.filter((f): f is MessageFrameSeen => f.type === 'message');

/** A user and a friend who writes to them in a direct conversation. */
async function pair(): Promise<{ me: TestUser; send: (text: string) => Promise<number> }> {
  const me = await newUser(server.url);
  const friend = await newUser(server.url);
  const conv = await friend.http.direct({ username: me.username });
  return {
    me,
    send: async (text) => (await friend.http.send(conv.id, { clientId: text, text })).pos,
  };
}

async function syncedSocket(token: string, since: string | number | null): Promise<RawSocket> {
  const s = await RawSocket.open(server.url, token);
  s.send({ type: 'sync', since });
  await s.until((f) => f.some((x) => x.type === 'synced'));
  return s;
}

describe('feed cursor', () => {
  it('stamps every message frame, ready and synced with the cursor; resumes from it and from a number', async () => {
    const { me, send } = await pair();
    await send('before');
    const first = await syncedSocket(me.session.token, null);
    const ready = first.frames[0];
    if (ready?.type !== 'ready') throw new Error(`first frame ${JSON.stringify(ready)}`);
    expect(ready.cursor).toBe(String(ready.pos));
    expect(first.frames.find((f) => f.type === 'synced')).toEqual({
      type: 'synced',
      pos: ready.pos,
      cursor: ready.cursor,
    });
    // Live frames: the cursor after each message (one space: its position).
    const live = [await send('live-1'), await send('live-2')];
    await first.until((f) => messageFrames(f).length === 2);
    expect(messageFrames(first.frames).map((f) => [f.message.pos, f.cursor])).toEqual(
      live.map((p) => [p, String(p)]),
    );
    const cursor = messageFrames(first.frames).at(-1)!.cursor!;
    first.close();

    const missed = [await send('away-1'), await send('away-2'), await send('away-3')];
    // Catch-up frames from the cursor string and from the same position as a number.
    for (const since of [cursor, Number(cursor)]) {
      const back = await syncedSocket(me.session.token, since);
      const frames = messageFrames(back.frames);
      expect(
        frames.map((f) => [f.message.pos, f.cursor]),
        `since ${JSON.stringify(since)}`,
      ).toEqual(missed.map((p) => [p, String(p)]));
      expect(back.frames.find((f) => f.type === 'synced')).toMatchObject({
        pos: missed.at(-1),
        cursor: String(missed.at(-1)),
      });
      back.close();
    }
  });

  it('refuses a malformed cursor with invalid_field and keeps the connection', async () => {
    const { me } = await pair();
    const s = await RawSocket.open(server.url, me.session.token);
    await s.until((f) => f.some((x) => x.type === 'ready'));
    // Two positions of the one position space.
    s.send({ type: 'sync', since: '1.2' });
    await s.until((f) => f.some((x) => x.type === 'error'));
    expect(s.frames.find((f) => f.type === 'error')).toMatchObject({ code: 'invalid_field' });
    // The refused sync did not count: a good one still starts catch-up.
    s.send({ type: 'sync', since: '0' });
    await s.until((f) => f.some((x) => x.type === 'synced'));
    expect(s.closeCode).toBeNull();
    s.close();
    const bad = await api(server.url, 'GET', '/v1/sync?since=1.2', undefined, me.session.token);
    expect(bad).toMatchObject({ status: 400, body: { code: 'invalid_field' } });
  });

  it('keeps the SDK cursor as a string and resumes from a string or a legacy number', async () => {
    const { me, send } = await pair();
    const a = new Recorder(server.url, me.session.token, { since: null });
    recorders.push(a);
    const synced: { pos: number; cursor: string }[] = [];
    a.client.on('synced', (e) => synced.push(e));
    await a.start();
    expect(synced).toEqual([{ pos: 0, cursor: '0' }]);
    const p1 = await send('s1');
    await eventually(() => a.messages.length === 1, 'the live message');
    expect(a.client.cursor).toBe(String(p1));
    a.stop();
    const missed = [await send('s2'), await send('s3')];
    for (const since of [String(p1), p1]) {
      const b = new Recorder(server.url, me.session.token, { since });
      recorders.push(b);
      await b.start();
      await eventually(() => b.messages.length === 2, 'what was missed');
      expect(b.messages.map((m: Message) => m.pos)).toEqual(missed);
      expect(b.client.cursor).toBe(String(missed.at(-1)));
      b.stop();
    }
  });

  it('pages GET /v1/sync by cursor; a numeric since still works', async () => {
    const { me, send } = await pair();
    const sent: number[] = [];
    for (let i = 0; i < 5; i++) sent.push(await send(`h${i}`));
    const page = (since: string) =>
      api<SyncPage>(server.url, 'GET', `/v1/sync?since=${since}&limit=2`, undefined, me.session.token);
    const seen: number[] = [];
    let since = '0';
    for (;;) {
      const { status, body } = await page(since);
      expect(status).toBe(200);
      expect(body.cursor).toBe(String(body.pos));
      seen.push(...body.messages.map((m) => m.pos));
      since = body.cursor;
      if (!body.hasMore) break;
    }
    expect(seen).toEqual(sent);
    expect((await page(String(sent[2]))).body.messages.map((m) => m.pos)).toEqual(sent.slice(3, 5));
  });
});
