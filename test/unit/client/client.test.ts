import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { AUTH_PROTOCOL_PREFIX, PROTOCOL } from '@parley/protocol';
import { ParleyClient, ParleyError } from '../../../packages/client/src/index.js';
import type {
  Ack,
  ClientEvents,
  ConnectionState,
  Message,
  OutboxStorage,
  ParleyClientOptions,
  PendingSend,
} from '../../../packages/client/src/index.js';
import { FakeServer } from '../../helpers/fake-server.js';
import type { FakeConnection, FakeServerOptions } from '../../helpers/fake-server.js';

const servers: FakeServer[] = [];
const clients: ParleyClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) await server.stop();
});

async function startServer(options: FakeServerOptions = {}): Promise<FakeServer> {
  const server = await FakeServer.start(options);
  servers.push(server);
  return server;
}

/** A client for `server`; `random` is 0 so every backoff delay is 0 unless a test says otherwise. */
function makeClient(server: FakeServer, options: Partial<ParleyClientOptions> = {}): ParleyClient {
  const client = new ParleyClient({
    url: server.url,
    token: 'token',
    WebSocket,
    random: () => 0,
    ...options,
  });
  clients.push(client);
  return client;
}

/** The next `event` for which `accept` holds. */
function nextEvent<K extends keyof ClientEvents>(
  client: ParleyClient,
  event: K,
  accept: (payload: ClientEvents[K]) => boolean = () => true,
): Promise<ClientEvents[K]> {
  return new Promise((resolve) => {
    const off = client.on(event, (payload) => {
      if (!accept(payload)) return;
      off();
      resolve(payload);
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function message(conversationId: string, seq: number, pos: number): Message {
  return {
    id: `${conversationId}-${seq}`,
    conversationId,
    seq,
    pos,
    senderId: 'u2',
    clientId: `c-${conversationId}-${seq}`,
    kind: 'text',
    text: `message ${seq}`,
    createdAt: 1_700_000_000_000 + pos,
  };
}

function ackFor(conn: FakeConnection, clientId: string, seq: number, duplicate = false): void {
  const send = conn.framesOf('send').find((f) => f.clientId === clientId);
  if (send === undefined) throw new Error(`no send with clientId ${clientId}`);
  const ack: Ack = {
    clientId,
    conversationId: send.conversationId,
    id: `id-${clientId}`,
    seq,
    pos: 100 + seq,
    createdAt: 1_700_000_000_000,
    duplicate,
  };
  conn.send({ type: 'ack', ...ack });
}

describe('ParleyClient: connecting', () => {
  it('offers the token as a subprotocol, not in the URL, and syncs from the since option', async () => {
    const server = await startServer({ token: 'sekret-token' });
    const client = makeClient(server, { token: 'sekret-token', since: 42 });
    const states: ConnectionState[] = [];
    client.on('state', (s) => states.push(s));
    client.connect();

    const conn = await server.connection(0);
    expect(conn.protocols).toEqual([PROTOCOL, `${AUTH_PROTOCOL_PREFIX}sekret-token`]);
    expect(conn.url).toBe('/v1/ws');
    expect(conn.url).not.toContain('sekret');
    const [sync] = await conn.waitFor('sync');
    expect(sync).toEqual({ type: 'sync', since: 42 });
    expect(conn.frames[0]).toEqual(sync);

    const synced = nextEvent(client, 'synced');
    conn.send({ type: 'synced', pos: 42, cursor: '42' });
    expect(await synced).toEqual({ pos: 42, cursor: '42' });
    expect(states).toEqual(['connecting', 'open', 'synced']);
    expect(client.state).toBe('synced');
    expect(conn.binaryFrames).toBe(0);
  });

  it('syncs from null by default and takes the cursor from synced', async () => {
    const server = await startServer();
    const client = makeClient(server);
    expect(client.cursor).toBeNull();
    client.connect();
    const conn = await server.connection(0);
    expect(await conn.waitFor('sync')).toEqual([{ type: 'sync', since: null }]);
    const synced = nextEvent(client, 'synced');
    conn.send({ type: 'synced', pos: 17, cursor: '17' });
    await synced;
    expect(client.cursor).toBe('17');
  });

  it('calls wsUrl before every connection attempt', async () => {
    const server = await startServer();
    let calls = 0;
    const client = makeClient(server, {
      wsUrl: async () => {
        calls++;
        return `${server.url.replace('http', 'ws')}/v1/ws`;
      },
    });
    client.connect();
    const first = await server.connection(0);
    await first.waitFor('sync');
    first.close(4000);
    await (await server.connection(1)).waitFor('sync');
    expect(calls).toBe(2);
  });

  it('throws unauthorized when connecting without a token', async () => {
    const server = await startServer();
    const client = makeClient(server, { token: undefined });
    expect(() => client.connect()).toThrow(ParleyError);
    expect(client.state).toBe('idle');
  });
});

describe('ParleyClient: outbox', () => {
  it('sends a message queued while disconnected once connected, after sync', async () => {
    const server = await startServer();
    const client = makeClient(server);
    const pendingCounts: number[] = [];
    client.on('outbox', ({ pending }) => pendingCounts.push(pending));

    const acked = client.send('c1', 'hello', { clientId: 'k1' });
    expect(client.pending).toBe(1);
    expect(client.pendingSends().map((p) => p.clientId)).toEqual(['k1']);
    client.connect();

    const conn = await server.connection(0);
    await conn.waitFor('send');
    expect(conn.frames.map((f) => f.type)).toEqual(['sync', 'send']);
    expect(conn.framesOf('send')).toEqual([
      { type: 'send', conversationId: 'c1', clientId: 'k1', text: 'hello' },
    ]);
    ackFor(conn, 'k1', 1);
    const ack = await acked;
    expect(ack.clientId).toBe('k1');
    expect(ack.seq).toBe(1);
    expect(client.pending).toBe(0);
    expect(pendingCounts).toEqual([1, 0]);
  });

  it('resends unacked sends after a reconnect with the same clientIds, in order', async () => {
    const server = await startServer();
    const client = makeClient(server);
    client.connect();
    const first = await server.connection(0);
    await first.waitFor('sync');

    const a = client.send('c1', 'a');
    const b = client.send('c1', 'b');
    const c = client.send('c2', 'c');
    const sent = await first.waitFor('send', 3);
    const ids = sent.map((f) => f.clientId);
    expect(new Set(ids).size).toBe(3);
    ackFor(first, ids[1] ?? '', 7); // b is stored; a and c are not
    await b;
    expect(client.pending).toBe(2);

    first.drop();
    const second = await server.connection(1);
    const resent = await second.waitFor('send', 2);
    expect(second.frames[0]?.type).toBe('sync');
    expect(resent.map((f) => [f.clientId, f.text])).toEqual([
      [ids[0], 'a'],
      [ids[2], 'c'],
    ]);
    ackFor(second, ids[0] ?? '', 8);
    ackFor(second, ids[2] ?? '', 1);
    expect((await a).seq).toBe(8);
    expect((await c).seq).toBe(1);
    expect(client.pending).toBe(0);
  });

  it('resolves the promise once and emits one ack when two acks arrive', async () => {
    const server = await startServer();
    const client = makeClient(server);
    client.connect();
    const conn = await server.connection(0);
    await conn.waitFor('sync');

    const acks: Ack[] = [];
    client.on('ack', (ack) => acks.push(ack));
    let resolutions = 0;
    const acked = client.send('c1', 'hi', { clientId: 'k1' }).then((ack) => {
      resolutions++;
      return ack;
    });
    await conn.waitFor('send');
    ackFor(conn, 'k1', 3);
    ackFor(conn, 'k1', 3, true);
    // A frame after both acks: once it is handled, both acks have been.
    const synced = nextEvent(client, 'synced');
    conn.send({ type: 'synced', pos: 0 });
    await synced;
    expect((await acked).seq).toBe(3);
    expect(resolutions).toBe(1);
    expect(acks.map((a) => a.clientId)).toEqual(['k1']);
  });

  it('rejects a send with a non-retryable error carrying its code', async () => {
    const server = await startServer();
    const client = makeClient(server);
    client.connect();
    const conn = await server.connection(0);
    await conn.waitFor('sync');

    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    const sent = client.send('c1', 'hi', { clientId: 'k1' });
    await conn.waitFor('send');
    conn.send({ type: 'error', code: 'forbidden', message: 'not a member', retryable: false, ref: 'k1' });
    const err = await sent.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).code).toBe('forbidden');
    expect((err as ParleyError).message).toBe('not a member');
    expect(client.pending).toBe(0);
    expect(errors).toEqual([]); // reported through the promise, not as an event
  });

  it('resends a send after a retryable error, with the same clientId', async () => {
    const server = await startServer();
    const client = makeClient(server);
    client.connect();
    const conn = await server.connection(0);
    await conn.waitFor('sync');

    const sent = client.send('c1', 'hi', { clientId: 'k1' });
    await conn.waitFor('send');
    conn.send({ type: 'error', code: 'rate_limited', message: 'slow down', retryable: true, ref: 'k1' });
    const sends = await conn.waitFor('send', 2);
    expect(sends.map((f) => f.clientId)).toEqual(['k1', 'k1']);
    expect(client.pending).toBe(1);
    ackFor(conn, 'k1', 1);
    expect((await sent).clientId).toBe('k1');
  });

  it('sends attachments with an empty caption, and refuses none or more than 10', async () => {
    const server = await startServer();
    const client = makeClient(server);
    await expect(client.send('c1', '', { attachments: [] })).rejects.toMatchObject({ code: 'invalid_field' });
    const eleven = Array.from({ length: 11 }, (_, i) => ({ uploadId: `u${i}` }));
    await expect(client.send('c1', 'x', { attachments: eleven })).rejects.toMatchObject({
      code: 'invalid_field',
    });
    const attachments = [{ uploadId: 'u1' }, { uploadId: 'u2', durationMs: 1500, waveform: 'AAEC' }];
    const acked = client.send('c1', '', { clientId: 'k1', attachments });
    expect(client.pendingSends()[0]?.attachments).toEqual(attachments);
    await expect(
      client.send('c1', '', { clientId: 'k1', attachments: [{ uploadId: 'u3' }] }),
    ).rejects.toMatchObject({
      code: 'client_id_conflict',
    });
    client.connect();
    const conn = await server.connection(0);
    await conn.waitFor('send');
    expect(conn.framesOf('send')).toEqual([
      { type: 'send', conversationId: 'c1', clientId: 'k1', text: '', attachments },
    ]);
    ackFor(conn, 'k1', 1);
    expect((await acked).seq).toBe(1);
  });

  it('rejects locally what the server would refuse, without queueing it', async () => {
    const server = await startServer();
    const client = makeClient(server);
    await expect(client.send('c1', '')).rejects.toMatchObject({ code: 'text_empty' });
    await expect(client.send('c1', 'x'.repeat(100_000))).rejects.toMatchObject({ code: 'text_too_long' });
    await expect(client.send('c1', 'x', { clientId: 'k'.repeat(65) })).rejects.toMatchObject({
      code: 'invalid_field',
    });
    expect(client.pending).toBe(0);
  });

  it('keeps pending sends on close() and rejects them on close({ rejectPending: true })', async () => {
    const server = await startServer();
    const client = makeClient(server);
    const kept = client.send('c1', 'kept', { clientId: 'k1' });
    client.close();
    expect(client.state).toBe('closed');
    expect(client.pending).toBe(1);

    client.connect();
    const conn = await server.connection(0);
    await conn.waitFor('send');
    ackFor(conn, 'k1', 1);
    await kept;

    const dropped = client.send('c1', 'dropped', { clientId: 'k2' });
    await conn.waitFor('send', 2);
    client.close({ rejectPending: true });
    await expect(dropped).rejects.toMatchObject({ code: 'unavailable' });
    expect(client.pending).toBe(0);
  });

  it('loads outboxStorage before connecting, sends stored entries first and deletes acked ones', async () => {
    const stored: PendingSend = { clientId: 'old', conversationId: 'c1', text: 'from before', createdAt: 1 };
    const ops: string[] = [];
    const storage: OutboxStorage = {
      load: async () => [stored],
      put: (p) => void ops.push(`put ${p.clientId}`),
      delete: (id) => void ops.push(`delete ${id}`),
    };
    const server = await startServer();
    const client = makeClient(server, { outboxStorage: storage });
    const acked = client.send('c1', 'new', { clientId: 'new' });
    client.connect();
    const conn = await server.connection(0);
    const sends = await conn.waitFor('send', 2);
    expect(sends.map((f) => f.clientId)).toEqual(['old', 'new']);
    ackFor(conn, 'new', 2);
    await acked;
    const ackOld = nextEvent(client, 'ack');
    ackFor(conn, 'old', 1);
    expect((await ackOld).clientId).toBe('old');
    await delay(0);
    expect(ops).toEqual(['put new', 'delete new', 'delete old']);
  });
});

describe('ParleyClient: messages', () => {
  it('emits a repeated message once and moves the cursor to the highest pos (a server without cursors)', async () => {
    const server = await startServer();
    const client = makeClient(server, { since: 0 });
    const seen: string[] = [];
    client.on('message', (m) => seen.push(`${m.conversationId}:${m.seq}`));
    client.connect();
    const conn = await server.connection(0);
    await conn.waitFor('sync');

    conn.send({ type: 'message', message: message('a', 1, 5) });
    conn.send({ type: 'message', message: message('a', 1, 5) });
    conn.send({ type: 'message', message: message('b', 1, 9) });
    conn.send({ type: 'message', message: message('a', 2, 7) });
    conn.send({ type: 'message', message: message('a', 2, 7) });
    const synced = nextEvent(client, 'synced');
    conn.send({ type: 'synced', pos: 8 });
    await synced;
    expect(seen).toEqual(['a:1', 'b:1', 'a:2']);
    expect(client.cursor).toBe('9');
  });

  it('syncs from the cursor after a reconnect and drops the replayed overlap (a server without cursors)', async () => {
    const server = await startServer();
    const client = makeClient(server, { since: 3 });
    const seen: string[] = [];
    client.on('message', (m) => seen.push(`${m.conversationId}:${m.seq}`));
    client.connect();
    const first = await server.connection(0);
    await first.waitFor('sync');
    first.send({ type: 'message', message: message('a', 1, 4) });
    first.send({ type: 'message', message: message('a', 2, 6) });
    const synced = nextEvent(client, 'synced');
    first.send({ type: 'synced', pos: 6 });
    await synced;
    first.close(4008, 'slow consumer');

    const second = await server.connection(1);
    expect(await second.waitFor('sync')).toEqual([{ type: 'sync', since: 6 }]);
    second.send({ type: 'message', message: message('a', 2, 6) });
    second.send({ type: 'message', message: message('a', 3, 8) });
    const resynced = nextEvent(client, 'synced');
    second.send({ type: 'synced', pos: 8 });
    await resynced;
    expect(seen).toEqual(['a:1', 'a:2', 'a:3']);
    expect(client.cursor).toBe('8');
  });

  it('takes the cursor of each frame as it is and resumes from it', async () => {
    const server = await startServer();
    const client = makeClient(server, { since: '3.66' });
    const seen: string[] = [];
    client.on('message', (m) => seen.push(`${m.conversationId}:${m.seq}`));
    client.connect();
    const first = await server.connection(0);
    expect(await first.waitFor('sync')).toEqual([{ type: 'sync', since: '3.66' }]);
    // Positions of two position spaces: the cursor is the server's, never computed from pos.
    const got = new Promise<void>((resolve) => client.on('message', (m) => m.pos === 131 && resolve()));
    first.send({ type: 'message', cursor: '67.68', message: message('a', 1, 67) });
    first.send({ type: 'message', cursor: '68.131', message: message('b', 1, 131) });
    await got;
    expect(client.cursor).toBe('68.131');
    const synced = nextEvent(client, 'synced');
    first.send({ type: 'synced', pos: 131, cursor: '68.131' });
    expect(await synced).toEqual({ pos: 131, cursor: '68.131' });
    const third = nextEvent(client, 'message');
    first.send({ type: 'message', cursor: '68.131.194', message: message('a', 2, 194) });
    await third;
    expect(client.cursor).toBe('68.131.194');
    first.close(4008, 'slow consumer');

    const second = await server.connection(1);
    expect(await second.waitFor('sync')).toEqual([{ type: 'sync', since: '68.131.194' }]);
    expect(seen).toEqual(['a:1', 'b:1', 'a:2']);
  });

  it('sends a cursor of one position as a number, which servers without cursors take too', async () => {
    const server = await startServer();
    const client = makeClient(server, { since: '42' });
    expect(client.cursor).toBe('42');
    client.connect();
    const conn = await server.connection(0);
    expect(await conn.waitFor('sync')).toEqual([{ type: 'sync', since: 42 }]);
  });

  it('takes a lower cursor from the first synced after the server was restored from a backup (a server without cursors)', async () => {
    const server = await startServer();
    const client = makeClient(server, { since: 100 });
    client.connect();
    const first = await server.connection(0);
    expect(await first.waitFor('sync')).toEqual([{ type: 'sync', since: 100 }]);
    const synced = nextEvent(client, 'synced');
    first.send({ type: 'synced', pos: 4 });
    await synced;
    expect(client.cursor).toBe('4');
    first.send({ type: 'message', message: message('a', 5, 5) });
    await delay(0);
    // A later synced of the same connection (after a gap refill) never moves it back.
    const again = nextEvent(client, 'synced');
    first.send({ type: 'synced', pos: 4 });
    await again;
    expect(client.cursor).toBe('5');
    first.close(4008, 'slow consumer');

    const second = await server.connection(1);
    expect(await second.waitFor('sync')).toEqual([{ type: 'sync', since: 5 }]);
  });

  it('passes conversation, read and unreferenced error frames on as events, and ignores unknown frames', async () => {
    const server = await startServer();
    const client = makeClient(server);
    const events: string[] = [];
    client.on('conversation', (c) => events.push(`conversation ${c.id}`));
    client.on('conversation_removed', (c) => events.push(`removed ${c.conversationId}`));
    client.on('read', (r) => events.push(`read ${r.conversationId} ${r.userId} ${r.seq}`));
    client.on('error', (e) => events.push(`error ${e.code}`));
    client.connect();
    const conn = await server.connection(0);
    await conn.waitFor('sync');

    conn.send({ type: 'typing', conversationId: 'c1' }); // a frame from a future server
    conn.sendRaw('not json');
    conn.send({
      type: 'conversation',
      conversation: {
        id: 'c1',
        kind: 'group',
        name: 'g',
        createdAt: 1,
        lastActivityAt: 1,
        lastSeq: 0,
        lastMessage: null,
        unread: 0,
        readSeq: 0,
        memberCount: 2,
        role: 'admin',
      },
    });
    conn.send({ type: 'read', conversationId: 'c1', userId: 'u2', seq: 4 });
    conn.send({ type: 'conversation_removed', conversationId: 'c1' });
    conn.send({ type: 'error', code: 'invalid_field', message: 'bad', retryable: false });
    const synced = nextEvent(client, 'synced');
    conn.send({ type: 'synced', pos: 0 });
    await synced;
    expect(events).toEqual(['conversation c1', 'read c1 u2 4', 'removed c1', 'error invalid_field']);
    expect(client.state).toBe('synced');
  });

  it('sends markRead at once when connected, and the latest offline one on connect', async () => {
    const server = await startServer();
    const client = makeClient(server);
    client.markRead('c1', 3);
    client.markRead('c1', 5);
    client.markRead('c1', 4);
    client.connect();
    const conn = await server.connection(0);
    expect(await conn.waitFor('read')).toEqual([{ type: 'read', conversationId: 'c1', seq: 5 }]);
    client.markRead('c2', 1);
    expect((await conn.waitFor('read', 2))[1]).toEqual({ type: 'read', conversationId: 'c2', seq: 1 });
  });
});

describe('ParleyClient: close codes', () => {
  it('stops after 4003 device_revoked: state closed, an error event, no reconnect', async () => {
    const server = await startServer();
    const client = makeClient(server);
    client.connect();
    const conn = await server.connection(0);
    await conn.waitFor('sync');
    const error = nextEvent(client, 'error');
    conn.close(4003, 'revoked');
    expect(await error).toMatchObject({ code: 'device_revoked', retryable: false });
    expect(client.state).toBe('closed');
    await delay(100); // with random() = 0 a reconnect would be immediate
    expect(server.connections).toHaveLength(1);
  });

  it('stops after 4001 unauthorized (a wrong token)', async () => {
    const server = await startServer({ token: 'right' });
    const client = makeClient(server, { token: 'wrong' });
    const error = nextEvent(client, 'error');
    client.connect();
    expect(await error).toMatchObject({ code: 'unauthorized' });
    expect(client.state).toBe('closed');
    await delay(100);
    expect(server.connections).toHaveLength(1);
  });

  it('stops when the upgrade is refused with HTTP 401 and GET /v1/me confirms the token is bad', async () => {
    const unauthorized = { code: 'unauthorized', message: 'Bad token', retryable: false } as const;
    const server = await startServer({ rejectUpgrade: { status: 401, body: unauthorized } });
    server.httpReplies.set('GET /v1/me', { status: 401, body: unauthorized });
    // A long backoff: the check, not a second attempt, must end the loop.
    const client = makeClient(server, {
      reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
      random: () => 1,
    });
    const error = nextEvent(client, 'error');
    client.connect();
    expect(await error).toMatchObject({ code: 'unauthorized', message: 'Bad token' });
    expect(client.state).toBe('closed');
    expect(server.upgrades).toBe(1);
    // Discovery first (the fake server has none: the client falls back to its own URL), then the token check.
    expect(server.httpRequests).toEqual(['GET /v1/discovery', 'GET /v1/me']);
  });

  it('keeps retrying a refused upgrade while GET /v1/me accepts the token', async () => {
    const shutdown = { code: 'server_shutdown', message: 'Shutting down', retryable: true } as const;
    const server = await startServer({ rejectUpgrade: { status: 503, body: shutdown } });
    server.httpReplies.set('GET /v1/me', {
      status: 200,
      body: { id: 'u1', username: 'alice', displayName: 'A' },
    });
    const client = makeClient(server);
    client.connect();
    await server.until(() => server.httpRequests.length >= 1 && server.upgrades >= 3);
    expect(client.state).toBe('reconnecting');
    server.options.rejectUpgrade = false;
    await (await server.connection(0)).waitFor('sync');
  });

  it('reconnects after 1001 within a small jitter, without the backoff delay', async () => {
    const server = await startServer();
    let randomCalls = 0;
    // The backoff would wait a minute and time the test out; the jitter is at most 250 ms.
    const client = makeClient(server, {
      reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
      random: () => {
        randomCalls++;
        return 1;
      },
    });
    client.connect();
    const first = await server.connection(0);
    await first.waitFor('sync');
    first.close(1001, 'going away');
    await (await server.connection(1)).waitFor('sync');
    // One pick for the jitter (0 before: every client of a draining server came back at once).
    expect(randomCalls).toBe(1);
  });

  it('backs off after any other close', async () => {
    const server = await startServer();
    let randomCalls = 0;
    const client = makeClient(server, {
      random: () => {
        randomCalls++;
        return 0;
      },
    });
    client.connect();
    const first = await server.connection(0);
    await first.waitFor('sync');
    const reconnecting = nextEvent(client, 'state', (s) => s === 'reconnecting');
    first.close(4008, 'slow consumer');
    await reconnecting;
    await (await server.connection(1)).waitFor('sync');
    expect(randomCalls).toBe(1);
  });
  it('connect() while reconnecting skips the rest of the backoff delay', async () => {
    const server = await startServer();
    // The backoff would wait a minute and time the test out.
    const client = makeClient(server, {
      reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
      random: () => 1,
    });
    client.connect();
    const first = await server.connection(0);
    await first.waitFor('sync');
    const reconnecting = nextEvent(client, 'state', (s) => s === 'reconnecting');
    first.close(4008, 'slow consumer');
    await reconnecting;
    client.connect();
    await (await server.connection(1)).waitFor('sync');
  });
});

describe('ParleyClient: heartbeat', () => {
  it('drops a silent server and reconnects', async () => {
    const server = await startServer({ pong: false });
    const client = makeClient(server, { heartbeatMs: 50 });
    client.connect();
    const first = await server.connection(0);
    await first.waitFor('ping');
    await (await server.connection(1)).waitFor('sync');
    // 4000: dropped to reconnect, not a goodbye (presence keeps the user online).
    expect(await first.closed()).toBe(4000);
  });

  it('stays connected while the server answers pings', async () => {
    const server = await startServer({ pong: true });
    const client = makeClient(server, { heartbeatMs: 100 });
    client.connect();
    const conn = await server.connection(0);
    await conn.waitFor('ping', 5);
    expect(server.connections).toHaveLength(1);
    expect(client.state).toBe('open');
  });
});

describe('ParleyClient: receipts, typing and moving', () => {
  it('reports delivered receipts for received messages, one frame per conversation', async () => {
    const server = await startServer();
    const client = makeClient(server);
    client.connect();
    const conn = await server.connection(0);
    await conn.waitFor('sync');
    conn.send({ type: 'synced', pos: 0 });
    conn.send({ type: 'message', message: message('c1', 1, 1) });
    conn.send({ type: 'message', message: message('c1', 2, 2) });
    conn.send({ type: 'message', message: message('c2', 1, 3) });
    const delivered = await conn.waitFor('delivered', 2);
    expect(delivered.map((f) => [f.conversationId, f.seq]).sort()).toEqual([
      ['c1', 2],
      ['c2', 1],
    ]);
  });

  it('does not report delivered receipts when autoDelivered is off', async () => {
    const server = await startServer();
    const client = makeClient(server, { autoDelivered: false });
    client.connect();
    const conn = await server.connection(0);
    await conn.waitFor('sync');
    conn.send({ type: 'message', message: message('c1', 1, 1) });
    await nextEvent(client, 'message');
    client.markRead('c1', 1);
    await conn.waitFor('read');
    expect(conn.framesOf('delivered')).toEqual([]);
  });

  it('throttles typing frames and expires typing indicators, cleared by the typist’s message', async () => {
    const server = await startServer();
    const client = makeClient(server);
    client.connect();
    const conn = await server.connection(0);
    await conn.waitFor('sync');
    client.typing('c1');
    client.typing('c1');
    client.typing('c2');
    await conn.waitFor('typing', 2);
    expect(conn.framesOf('typing').map((f) => f.conversationId)).toEqual(['c1', 'c2']);
    const shown = nextEvent(client, 'typing', (t) => t.userIds.includes('u2'));
    conn.send({ type: 'typing', conversationId: 'c1', userId: 'u2', ttlMs: 60_000 });
    expect(await shown).toEqual({ conversationId: 'c1', userIds: ['u2'] });
    const cleared = nextEvent(client, 'typing', (t) => t.userIds.length === 0);
    conn.send({ type: 'message', message: message('c1', 1, 1) }); // sent by u2
    expect(await cleared).toEqual({ conversationId: 'c1', userIds: [] });
    const expiring = nextEvent(client, 'typing', (t) => t.conversationId === 'c2' && t.userIds.length === 0);
    conn.send({ type: 'typing', conversationId: 'c2', userId: 'u3', ttlMs: 30 });
    expect(await expiring).toEqual({ conversationId: 'c2', userIds: [] });
  });

  it('reconnects at once on a move frame and asks discovery again', async () => {
    const server = await startServer();
    let discoveries = 0;
    const client = makeClient(server, {
      wsUrl: () => {
        discoveries++;
        return server.url.replace(/^http/, 'ws') + '/v1/ws';
      },
      random: () => 0.99,
      reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    client.connect();
    const first = await server.connection(0);
    await first.waitFor('sync');
    first.send({ type: 'move' });
    const second = await server.connection(1);
    await second.waitFor('sync');
    expect(discoveries).toBe(2);
  });
});
