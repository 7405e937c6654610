/**
 * Failed logins slow down the account they target, whatever address they come from, while
 * other accounts on the same address log in as usual; and every login, failure, back-off,
 * signup and revocation is logged without a password or token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { api, uname } from '../helpers/raw.js';

let server: ServerHandle;
const victim = uname('victim');
const other = uname('other');
const RIGHT = 'right horse battery';
const WRONG = 'wrong-guess-q7z';

beforeAll(async () => {
  // A short first wait keeps the test quick; the doubling and the cap are the defaults'.
  server = await startServer({
    args: ['--login-free-failures', '3', '--login-backoff-base-ms', '1000', '--log-level', 'info'],
  });
  for (const username of [victim, other]) {
    const res = await api(server.url, 'POST', '/v1/users', { username, password: RIGHT });
    expect(res.status).toBe(201);
  }
});

afterAll(async () => {
  await server.stop();
  server.cleanup();
});

async function login(username: string, password: string) {
  const res = await fetch(`${server.url}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, deviceName: 'test' }),
  });
  const body = (await res.json()) as { code?: string; retryable?: boolean } & Partial<Session>;
  return { status: res.status, body, retryAfter: Number(res.headers.get('retry-after') ?? 0) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LogLine {
  event?: string;
  username?: string;
  ip?: string;
  [k: string]: unknown;
}
const logLines = (): LogLine[] =>
  server
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

describe('per-account login back-off', () => {
  const tokens: string[] = [];

  it('answers rate_limited with a growing Retry-After to one account while another logs in', async () => {
    for (let i = 0; i < 3; i++) expect((await login(victim, WRONG)).status).toBe(401);
    const first = await login(victim, WRONG);
    expect(first).toMatchObject({ status: 429, body: { code: 'rate_limited', retryable: true } });
    expect(first.retryAfter).toBeGreaterThanOrEqual(1);

    // The same address, another account: not held back.
    const ok = await login(other, RIGHT);
    expect(ok.status).toBe(201);
    tokens.push(ok.body.token as string);

    // Once the wait is over, one more wrong guess doubles the next wait.
    await sleep(first.retryAfter * 1000 + 100);
    expect((await login(victim, WRONG)).status).toBe(401);
    const second = await login(victim, WRONG);
    expect(second.status).toBe(429);
    // Even the right password waits: the account does not tell guesses from its owner.
    const rightTooEarly = await login(victim, RIGHT);
    expect(rightTooEarly.status).toBe(429);
    console.log(`Retry-After: ${first.retryAfter} s, then ${second.retryAfter} s`);
    expect(second.retryAfter).toBeGreaterThan(first.retryAfter);

    // After the wait, the right password works and the count starts over.
    await sleep(second.retryAfter * 1000 + 100);
    const back = await login(victim, RIGHT);
    expect(back.status).toBe(201);
    tokens.push(back.body.token as string);
    expect((await login(victim, WRONG)).status).toBe(401);
    expect((await login(victim, RIGHT)).status).toBe(201);
  });

  it('logs logins, failures, back-offs, signups and revocations, never a password or token', async () => {
    const session = await login(victim, RIGHT);
    expect(session.status).toBe(201);
    const token = session.body.token as string;
    tokens.push(token);
    const second = await login(victim, RIGHT);
    tokens.push(second.body.token as string);
    expect(
      (await api(server.url, 'DELETE', `/v1/devices/${second.body.device?.id}`, undefined, token)).status,
    ).toBe(200);
    expect((await api(server.url, 'DELETE', '/v1/sessions/current', undefined, token)).status).toBe(200);

    let events: LogLine[] = [];
    await expect
      .poll(
        () => {
          events = logLines().filter((l) => l.event !== undefined);
          return events.some((e) => e.event === 'logout');
        },
        { timeout: 10_000 },
      )
      .toBe(true);
    const of = (event: string) => events.filter((e) => e.event === event);
    expect(of('signup').map((e) => e.username)).toEqual(expect.arrayContaining([victim, other]));
    expect(of('login_failed').length).toBeGreaterThanOrEqual(5);
    expect(of('login_failed')[0]).toMatchObject({ username: victim, ip: '127.0.0.1' });
    expect(of('login_throttled').length).toBeGreaterThanOrEqual(3);
    expect(of('login_throttled')[0]).toMatchObject({ username: victim, ip: '127.0.0.1' });
    expect(of('login').map((e) => e.username)).toEqual(expect.arrayContaining([victim, other]));
    expect(of('device_revoked')).toHaveLength(1);
    expect(of('device_revoked')[0]).toMatchObject({ username: victim, deviceId: second.body.device?.id });
    expect(of('logout')).toHaveLength(1);
    for (const e of events) expect(e.level).toBe(30); // pino's info

    const out = server.output();
    for (const secret of [RIGHT, WRONG, ...tokens]) expect(out).not.toContain(secret);
    console.log(`security events logged: ${events.length}`);
  });
});

describe('devices of one user logging in together', () => {
  it('lets every right-password login through, more at once than the free failures', async () => {
    const username = uname('many');
    expect((await api(server.url, 'POST', '/v1/users', { username, password: RIGHT })).status).toBe(201);
    // Three free failures: seven logins at once used to count as seven failures while hashing.
    const results = await Promise.all(Array.from({ length: 7 }, () => login(username, RIGHT)));
    expect(results.map((r) => r.status)).toEqual(Array(7).fill(201));
    expect(new Set(results.map((r) => r.body.token)).size).toBe(7);
  });
});
