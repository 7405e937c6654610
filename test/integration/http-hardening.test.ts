/**
 * HTTP and account-input hardening against the real server: names that draw nothing or reorder
 * text are refused; errors Fastify raises itself answer with the registry's body; no `/v1` answer
 * may be cached or sniffed; slow or silent connections are closed and connections are capped.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversation, Session } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { RawSocket, account, api, uname } from '../helpers/raw.js';

let server: ServerHandle;
let a: Session;
let b: Session;

beforeAll(async () => {
  server = await startServer();
  a = await account(server.url);
  b = await account(server.url);
});

afterAll(async () => {
  await server.stop();
  server.cleanup();
});

describe('names with invisible or bidi characters', () => {
  const bad = ['Bob\u202eevil', 'B\u200bob', '\u2066Bob\u2069'];

  it('are refused as display names at signup and in PATCH /v1/me', async () => {
    for (const displayName of bad) {
      const signup = await api<{ code: string }>(server.url, 'POST', '/v1/users', {
        username: uname(),
        password: 'password123',
        displayName,
      });
      expect(signup).toMatchObject({ status: 400, body: { code: 'invalid_field' } });
      const patch = await api<{ code: string }>(server.url, 'PATCH', '/v1/me', { displayName }, a.token);
      expect(patch).toMatchObject({ status: 400, body: { code: 'invalid_field' } });
    }
    const ok = await api(server.url, 'PATCH', '/v1/me', { displayName: 'Ana 👩‍💻' }, a.token);
    expect(ok).toMatchObject({ status: 200, body: { displayName: 'Ana 👩‍💻' } });
  });

  it('are refused as group names, at creation and rename', async () => {
    const members = [b.user.username];
    // b takes group adds from anyone (a is no contact of b's).
    await api(server.url, 'PATCH', '/v1/me/privacy', { groupAdds: 'everyone' }, b.token);
    const created = await api<{ code: string }>(
      server.url,
      'POST',
      '/v1/conversations/groups',
      { name: 'Team\u202e', members },
      a.token,
    );
    expect(created).toMatchObject({ status: 400, body: { code: 'invalid_field' } });
    const group = await api<Conversation>(
      server.url,
      'POST',
      '/v1/conversations/groups',
      { name: 'Team', members },
      a.token,
    );
    expect(group.status).toBe(201);
    const renamed = await api<{ code: string }>(
      server.url,
      'PATCH',
      `/v1/conversations/${group.body.id}`,
      { name: 'Te\u200bam' },
      a.token,
    );
    expect(renamed).toMatchObject({ status: 400, body: { code: 'invalid_field' } });
  });
});

describe('errors Fastify raises while routing', () => {
  async function get(path: string): Promise<{ status: number; text: string }> {
    const res = await fetch(server.url + path, { headers: { authorization: `Bearer ${a.token}` } });
    return { status: res.status, text: await res.text() };
  }

  it('an over-long path parameter is 400 invalid_field with the registry body, not the URL', async () => {
    const long = 'u'.repeat(101);
    const res = await get(`/v1/users/${long}`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual({
      code: 'invalid_field',
      message: expect.any(String) as string,
      retryable: false,
    });
    expect(res.text).not.toContain(long);
  });

  it('a malformed percent-encoding in a path parameter is 400 invalid_field', async () => {
    const res = await get('/v1/users/bad%E0%A4%A');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'invalid_field', retryable: false });
    expect(res.text).not.toContain('bad');
  });
});

describe('requests Node cannot parse', () => {
  it('answer 400 with the registry body and close', async () => {
    const c = await Conn.open(server.port);
    c.write('NOT HTTP AT ALL\r\n\r\n');
    await c.untilClosed('malformed request');
    expect(c.received).toMatch(/^HTTP\/1\.1 400 /);
    const body = c.received.slice(c.received.indexOf('\r\n\r\n') + 4);
    expect(JSON.parse(body)).toEqual({
      code: 'invalid_field',
      message: expect.any(String) as string,
      retryable: false,
    });
  });
});

describe('headers of /v1 answers', () => {
  const expectApiHeaders = (res: Response, what: string) => {
    expect(res.headers.get('cache-control'), what).toBe('no-store');
    expect(res.headers.get('x-content-type-options'), what).toBe('nosniff');
  };

  it('every kind of /v1 answer carries cache-control: no-store and nosniff', async () => {
    const username = uname();
    await api(server.url, 'POST', '/v1/users', { username, password: 'password123' });
    const json = { 'content-type': 'application/json' };
    const auth = { authorization: `Bearer ${a.token}` };
    const cases: Array<[string, string, RequestInit]> = [
      [
        'a new session (token)',
        '/v1/sessions',
        { method: 'POST', headers: json, body: JSON.stringify({ username, password: 'password123' }) },
      ],
      ['an authenticated read', '/v1/me', { headers: auth }],
      ['a query string', '/v1/conversations?limit=5', { headers: auth }],
      ['discovery', '/v1/discovery', {}],
      ['an unauthenticated request', '/v1/me', {}],
      ['an unknown /v1 path', '/v1/nothing-here', { headers: auth }],
      ['an invalid body', '/v1/sessions', { method: 'POST', headers: json, body: '{' }],
      ['an over-long path parameter', `/v1/users/${'u'.repeat(101)}`, { headers: auth }],
    ];
    for (const [what, path, init] of cases) {
      const res = await fetch(server.url + path, init);
      await res.arrayBuffer();
      expectApiHeaders(res, what);
    }
  });

  it('a refused WebSocket upgrade carries them too', async () => {
    const c = await Conn.open(server.port);
    c.write(
      'GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: parley.v1\r\n\r\n',
    );
    await c.untilClosed('the refused upgrade');
    const head = c.received.slice(0, c.received.indexOf('\r\n\r\n')).toLowerCase();
    expect(head).toMatch(/^http\/1\.1 401/);
    expect(head).toContain('\r\ncache-control: no-store');
    expect(head).toContain('\r\nx-content-type-options: nosniff');
  });
});

/** A raw TCP connection that records what it receives and whether the server closed it. */
class Conn {
  received = '';
  closed = false;
  private readonly onClose: Promise<void>;
  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => (this.received += d.toString()));
    socket.on('error', () => undefined);
    this.onClose = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        resolve();
      }),
    );
  }
  static open(port: number): Promise<Conn> {
    const socket = connect(port, '127.0.0.1');
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(new Conn(socket)));
      socket.once('error', reject);
    });
  }
  write(text: string): void {
    if (!this.closed) this.socket.write(text);
  }
  /** Until the server closes the connection, sending `drip()` every 200 ms when given. */
  async untilClosed(what: string, drip?: () => string): Promise<void> {
    const timer = drip ? setInterval(() => this.write(drip()), 200) : undefined;
    const limit = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: still open`)), 20_000).unref(),
    );
    try {
      await Promise.race([this.onClose, limit]);
    } finally {
      clearInterval(timer);
    }
  }
}

describe('slow and silent connections', () => {
  let slow: ServerHandle;
  beforeAll(async () => {
    slow = await startServer({
      args: [
        '--http-connection-timeout-ms',
        '1000',
        '--http-headers-timeout-ms',
        '1000',
        '--http-request-timeout-ms',
        '1500',
        '--http-keep-alive-timeout-ms',
        '1000',
      ],
    });
  });
  afterAll(async () => {
    await slow.stop();
    slow.cleanup();
  });

  const partialBody =
    'POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    'Content-Length: 100000\r\n\r\n{"username":"';

  it('closes a connection that never sends anything', async () => {
    const c = await Conn.open(slow.port);
    await c.untilClosed('idle connection');
  });

  it('closes a connection that stops in the middle of a body', async () => {
    const c = await Conn.open(slow.port);
    c.write(partialBody);
    await c.untilClosed('partial body');
  });

  it('closes a connection that sends its headers a line at a time forever', async () => {
    const c = await Conn.open(slow.port);
    c.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let n = 0;
    await c.untilClosed('dripped headers', () => `X-Slow-${n++}: 1\r\n`);
  });

  it('closes a connection that sends its body a byte at a time forever', async () => {
    const c = await Conn.open(slow.port);
    c.write(partialBody);
    await c.untilClosed('dripped body', () => 'a');
    // Node's bare 408, not Fastify's JSON body.
    if (c.received !== '') expect(c.received).toMatch(/^HTTP\/1\.1 408 [^]*\r\n\r\n$/);
  });

  it('closes a keep-alive connection left idle after its answer', async () => {
    const c = await Conn.open(slow.port);
    c.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    await c.untilClosed('idle keep-alive connection');
    expect(c.received).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('connection cap', () => {
  let capped: ServerHandle;
  beforeAll(async () => {
    capped = await startServer({ args: ['--max-connections', '3'] });
  });
  afterAll(async () => {
    await capped.stop();
    capped.cleanup();
  });

  /** One request on its own connection; null when the server closed it unanswered. */
  async function healthz(): Promise<string | null> {
    const c = await Conn.open(capped.port);
    c.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await c.untilClosed('healthz');
    return c.received === '' ? null : c.received;
  }

  /** POST on its own connection, closed after the answer; the answer's body. */
  async function post(path: string, body: unknown): Promise<string> {
    const json = JSON.stringify(body);
    const c = await Conn.open(capped.port);
    c.write(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    );
    await c.untilClosed(path);
    return c.received.slice(c.received.indexOf('\r\n\r\n') + 4);
  }

  it('counts WebSockets and HTTP connections together', async () => {
    // The session is made over connections the server closes after each answer.
    const username = uname();
    await post('/v1/users', { username, password: 'password123' });
    const session = JSON.parse(await post('/v1/sessions', { username, password: 'password123' })) as Session;
    // Three WebSockets fill the cap (the closed connections above may take a moment to count out).
    const sockets: RawSocket[] = [];
    while (sockets.length < 3) {
      const ws = await RawSocket.open(capped.url, session.token).catch(() => null);
      if (ws) sockets.push(ws);
    }
    // A fourth connection, HTTP or WebSocket, is closed unanswered.
    expect(await healthz()).toBeNull();
    await expect(RawSocket.open(capped.url, session.token)).rejects.toThrow();
    // One WebSocket fewer, and a request is answered again.
    sockets.pop()?.close();
    let answer: string | null = null;
    while (answer === null) answer = await healthz();
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    for (const ws of sockets) ws.close();
  });
});
