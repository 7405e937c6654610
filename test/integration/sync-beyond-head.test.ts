/**
 * A `since` past the feed head (a device's cursor from before the server's data went back to
 * an older backup): every message committed after `ready` still arrives exactly once, in
 * order, and `GET /v1/sync` answers the head so a polling client carries on from there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ack, Message, SyncPage } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { RawSocket, api } from '../helpers/raw.js';
import { newUser } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';

let server: ServerHandle;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
  server.cleanup();
});

/** A user with three friends, each in a direct conversation with them. */
async function withFriends(): Promise<{ me: TestUser; friends: TestUser[]; convIds: string[] }> {
  const me = await newUser(server.url);
  const friends = await Promise.all([1, 2, 3].map(() => newUser(server.url)));
  const convIds = await Promise.all(
    friends.map(async (f) => (await f.http.direct({ username: me.username })).id),
  );
  return { me, friends, convIds };
}

describe('sync with a since past the feed head', () => {
  it.each([
    ['far past the head', (readyPos: number) => readyPos + 1_000_000],
    ['at the largest since', () => Number.MAX_SAFE_INTEGER],
  ])('delivers every message committed after ready exactly once, in order (%s)', async (_, sinceOf) => {
    const { me, friends, convIds } = await withFriends();
    const acks: Ack[] = [];
    const send = async (i: number, clientId: string) => {
      acks.push(await friends[i]!.http.send(convIds[i]!, { clientId, text: clientId }));
    };
    // Some history before the device connects: not asked for, not delivered.
    for (let i = 0; i < 3; i++) await send(i, `old-${i}`);
    const before = acks.splice(0);

    const s = await RawSocket.open(server.url, me.session.token);
    const [ready] = await s.until((f) => f.some((x) => x.type === 'ready'));
    if (ready?.type !== 'ready') throw new Error(`first frame ${JSON.stringify(ready)}`);
    expect(ready.pos).toBe(before.at(-1)!.pos);

    // Committed after `ready` and before `sync`, then more from three senders while it is issued.
    await Promise.all([0, 1, 2].map((i) => send(i, `early-${i}`)));
    const concurrent = Promise.all(
      [0, 1, 2].map(async (i) => {
        for (let k = 0; k < 15; k++) await send(i, `during-${i}-${k}`);
      }),
    );
    s.send({ type: 'sync', since: sinceOf(ready.pos) });
    await concurrent;
    // The last one committed: frames on one socket come in pos order, so once it is here,
    // everything before it is too; the pong after it flushes anything still on its way.
    await send(0, 'last');
    const last = acks.at(-1)!;
    await s.until((f) => f.some((x) => x.type === 'message' && x.message.id === last.id));
    s.send({ type: 'ping', t: 1 });
    await s.until((f) => f.some((x) => x.type === 'pong'));

    const got = s.frames
      .filter((x) => x.type === 'message')
      .map((x) => (x.type === 'message' ? x.message : null));
    const ids = got.map((m) => m!.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(acks.map((a) => a.id).sort());
    const poss = got.map((m) => m!.pos);
    expect(poss).toEqual([...poss].sort((x, y) => x - y));
    expect(Math.min(...poss)).toBeGreaterThan(ready.pos);
    // The catch-up reports where the feed stood: the client's new cursor, not its old one.
    const synced = s.frames.find((x) => x.type === 'synced');
    expect(synced).toEqual({ type: 'synced', pos: ready.pos, cursor: ready.cursor });
    s.close();
  });

  it('answers GET /v1/sync past the head with the head and no messages, then continues from it', async () => {
    const { me, friends, convIds } = await withFriends();
    const sync = (since: number | string) =>
      api<SyncPage>(server.url, 'GET', `/v1/sync?since=${since}`, undefined, me.session.token);
    const texts = (ms: Message[]) => ms.map((m) => m.text);
    let head = 0;
    for (let i = 0; i < 3; i++)
      head = (await friends[i]!.http.send(convIds[i]!, { clientId: `h${i}`, text: `h${i}` })).pos;

    for (const since of [head + 1, head + 100, Number.MAX_SAFE_INTEGER]) {
      expect(await sync(since), `since ${since}`).toEqual({
        status: 200,
        body: { messages: [], pos: head, cursor: String(head), hasMore: false },
      });
    }
    // Polling on from the answer's pos gets what is committed next.
    await friends[1]!.http.send(convIds[1]!, { clientId: 'n1', text: 'n1' });
    await friends[2]!.http.send(convIds[2]!, { clientId: 'n2', text: 'n2' });
    const next = await sync(head);
    expect(texts(next.body.messages)).toEqual(['n1', 'n2']);
    const last = next.body.messages[1]!.pos;
    expect(next.body).toMatchObject({ pos: last, cursor: String(last), hasMore: false });
    // No server ever hands out a cursor past a safe integer (WebSocket `sync` refuses it too).
    expect(await sync('9007199254740992')).toMatchObject({ status: 400, body: { code: 'invalid_field' } });
  });
});
