import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ParleyError, ParleyHttp } from '../../../packages/client/src/index.js';
import type { WebSocketConstructor } from '../../../packages/client/src/index.js';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Reply = { status: number; body: unknown } | { status: number; raw: string };

let server: Server;
let baseUrl: string;
let requests: Recorded[];
/** Reply to the next requests: keyed by "METHOD /path?query"; anything else is a 404 not_found. */
let replies: Map<string, Reply>;

beforeEach(async () => {
  requests = [];
  replies = new Map();
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const method = req.method ?? '';
      const url = req.url ?? '';
      requests.push({ method, url, headers: req.headers, body });
      const reply = replies.get(`${method} ${url}`) ?? {
        status: 404,
        body: { code: 'not_found', message: 'Not found', retryable: false },
      };
      res.statusCode = reply.status;
      if ('raw' in reply) {
        res.setHeader('content-type', 'text/html');
        res.end(reply.raw);
      } else {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(reply.body));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const user = { id: 'u1', username: 'alice', displayName: 'Alice' };

describe('ParleyHttp', () => {
  it('sends the token as a bearer header and never in the URL', async () => {
    replies.set('GET /v1/me', { status: 200, body: user });
    const http = new ParleyHttp({ baseUrl, token: 'tok-123' });
    expect(await http.me()).toEqual(user);
    const [req] = requests;
    expect(req?.headers.authorization).toBe('Bearer tok-123');
    expect(req?.url).toBe('/v1/me');
  });

  it('sends no authorization header to signup and login', async () => {
    const session = {
      token: 't',
      user,
      device: { id: 'd1', name: 'x', createdAt: 1, lastSeenAt: 1, current: true },
    };
    replies.set('POST /v1/sessions', { status: 200, body: session });
    const http = new ParleyHttp({ baseUrl, token: 'old' });
    expect(await http.login({ username: 'alice', password: 'password1' })).toEqual(session);
    expect(requests[0]?.headers.authorization).toBeUndefined();
    expect(requests[0]?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(requests[0]?.body ?? '')).toEqual({ username: 'alice', password: 'password1' });
  });

  it('encodes path parameters', async () => {
    replies.set('GET /v1/users/a%20b%2Fc%3Fd', { status: 200, body: user });
    replies.set('DELETE /v1/conversations/c%2F1/members/u%232', { status: 200, body: { ok: true } });
    const http = new ParleyHttp({ baseUrl, token: 't' });
    await http.getUser('a b/c?d');
    await http.removeMember('c/1', 'u#2');
    expect(requests.map((r) => r.url)).toEqual([
      '/v1/users/a%20b%2Fc%3Fd',
      '/v1/conversations/c%2F1/members/u%232',
    ]);
  });

  it('refuses path parameters that a URL parser would resolve away', async () => {
    const http = new ParleyHttp({ baseUrl, token: 't' });
    for (const id of ['', '.', '..']) {
      await expect(http.conversation(id)).rejects.toMatchObject({ code: 'invalid_field' });
    }
    expect(requests).toHaveLength(0);
  });

  it('puts defined query parameters in the query string', async () => {
    replies.set('GET /v1/conversations/c1/messages?before=10&limit=5', {
      status: 200,
      body: { messages: [], hasMore: false },
    });
    const http = new ParleyHttp({ baseUrl, token: 't' });
    expect(await http.history('c1', { before: 10, limit: 5 })).toEqual({ messages: [], hasMore: false });
  });

  it('throws ParleyError with the code and message of an error response', async () => {
    replies.set('POST /v1/conversations/c1/messages', {
      status: 403,
      body: { code: 'forbidden', message: 'Not a member', retryable: false },
    });
    const http = new ParleyHttp({ baseUrl, token: 't' });
    const err = await http.send('c1', { clientId: 'k1', text: 'hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect(err).toMatchObject({ code: 'forbidden', message: 'Not a member', status: 403 });
  });

  it('maps a non-Parley error response by status (a proxy 502 is unavailable)', async () => {
    replies.set('GET /v1/me', { status: 502, raw: '<html>Bad Gateway</html>' });
    const http = new ParleyHttp({ baseUrl, token: 't' });
    await expect(http.me()).rejects.toMatchObject({ code: 'unavailable', retryable: true });
  });

  it('turns a network failure into unavailable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const http = new ParleyHttp({ baseUrl: `http://127.0.0.1:${port}`, token: 't' });
    const err = await http.me().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect(err).toMatchObject({ code: 'unavailable' });
  });

  it('leave removes my own user id, fetching me once', async () => {
    replies.set('GET /v1/me', { status: 200, body: user });
    replies.set('DELETE /v1/conversations/c1/members/u1', { status: 200, body: { ok: true } });
    replies.set('DELETE /v1/conversations/c2/members/u1', { status: 200, body: { ok: true } });
    const http = new ParleyHttp({ baseUrl, token: 't' });
    await http.leave('c1');
    await http.leave('c2');
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /v1/me',
      'DELETE /v1/conversations/c1/members/u1',
      'DELETE /v1/conversations/c2/members/u1',
    ]);
  });

  it('uses the token set with setToken and an injected fetch', async () => {
    const seen: string[] = [];
    const http = new ParleyHttp({
      baseUrl: `${baseUrl}/`,
      fetch: (url, init) => {
        seen.push(`${url} ${new Headers(init.headers).get('authorization')}`);
        return fetch(url, init);
      },
    });
    await expect(http.me()).rejects.toMatchObject({ code: 'unauthorized' }); // no token: not sent
    http.setToken('new');
    replies.set('GET /v1/sync?since=4&limit=2', {
      status: 200,
      body: { messages: [], pos: 4, hasMore: false },
    });
    await http.sync({ since: 4, limit: 2 });
    expect(seen).toEqual([`${baseUrl}/v1/sync?since=4&limit=2 Bearer new`]);
  });
});

// Type-level: the DOM WebSocket fits the constructor type the client takes.
export const domWebSocket: WebSocketConstructor | undefined = globalThis.WebSocket;
