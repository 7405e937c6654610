/**
 * `/metrics` behind a bearer token or on a listener of its own, and `/healthz`, `/readyz` and
 * `/metrics` rate limited in a bucket apart from the API's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';

const servers: ServerHandle[] = [];
const dir = mkdtempSync(join(tmpdir(), 'parley-ops-'));
afterAll(async () => {
  for (const s of servers) {
    await s.stop();
    s.cleanup();
  }
  rmSync(dir, { recursive: true, force: true });
});

const TOKEN = 'metrics-token-9f2c';

async function get(url: string, token?: string) {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, text: await res.text() };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('/metrics with --metrics-token', () => {
  it('answers 401 without the right bearer token, the metrics with it', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
    const server = await startServer({ env: { PARLEY_METRICS_TOKEN_FILE: file } });
    servers.push(server);
    const none = await get(`${server.url}/metrics`);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text)).toMatchObject({ code: 'unauthorized' });
    expect((await get(`${server.url}/metrics`, 'wrong')).status).toBe(401);
    const ok = await get(`${server.url}/metrics`, TOKEN);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('parley_connections');
  });
});

describe('/metrics with --metrics-port', () => {
  it('is served on its own listener and not on the API one', async () => {
    const port = await freePort();
    const server = await startServer({ args: ['--metrics-port', String(port)] });
    servers.push(server);
    expect((await get(`${server.url}/metrics`)).status).toBe(404);
    const ok = await get(`http://127.0.0.1:${port}/metrics`);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('parley_errors_total');
    expect((await get(`http://127.0.0.1:${port}/v1/me`)).status).toBe(404);
    expect((await get(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe('operations endpoints are rate limited', () => {
  it('answer 429 past the per-address rate, while the API bucket is untouched', async () => {
    const server = await startServer({ args: ['--http-rate-per-min', '6'] });
    servers.push(server);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const path = ['/healthz', '/readyz', '/metrics'][i % 3] as string;
      statuses.push((await get(`${server.url}${path}`)).status);
    }
    console.log(`statuses of 10 probes at 6/min: ${statuses.join(' ')}`);
    expect(statuses.slice(0, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(statuses.slice(6)).toEqual([429, 429, 429, 429]);
    // The API's own bucket: an anonymous call is refused for its token, not for the rate.
    expect((await get(`${server.url}/v1/me`)).status).toBe(401);
  });
});
