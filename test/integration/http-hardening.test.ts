/**
 * HTTP and account-input hardening against the real server: names that draw nothing or reorder
 * text are refused; errors Fastify raises itself answer with the registry's body; no `/v1` answer
 * may be cached or sniffed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversation, Session } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { account, api, uname } from '../helpers/raw.js';

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
});
