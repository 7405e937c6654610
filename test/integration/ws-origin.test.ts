/** Browser pages of other origins cannot open a WebSocket; non-browser clients and the server's own pages can. */
import http from 'node:http';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_PROTOCOL_PREFIX, PROTOCOL } from '@parley/protocol';
import { account } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';

let server: ServerHandle;

beforeAll(async () => {
  server = await startServer({ args: ['--allowed-origins', 'https://app.example.com'] });
});

afterAll(async () => {
  await server.stop();
  server.cleanup();
});

/** The upgrade's answer: the HTTP status, before any WebSocket exists. */
function upgradeStatus(token: string, origin: string | undefined, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-protocol': `${PROTOCOL}, ${AUTH_PROTOCOL_PREFIX}${token}`,
    };
    if (origin !== undefined) headers.origin = origin;
    if (host !== undefined) headers.host = host;
    const req = http.request(`${server.url}/v1/ws`, { headers });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Origin', () => {
  it('refuses a foreign origin before the upgrade, accepts its own, the allowlist and none', async () => {
    const a = await account(server.url);
    const own = server.url; // http://127.0.0.1:<port>
    expect(await upgradeStatus(a.token, 'https://evil.example')).toBe(403);
    expect(await upgradeStatus(a.token, 'null')).toBe(403);
    expect(await upgradeStatus(a.token, own)).toBe(101);
    expect(await upgradeStatus(a.token, 'https://app.example.com')).toBe(101);
    expect(await upgradeStatus(a.token, undefined)).toBe(101);
    // Same host, through a proxy that keeps Host: the page's origin is the Host it was served from.
    expect(await upgradeStatus(a.token, 'https://chat.example.org', 'chat.example.org')).toBe(101);
  });

  it('answers the refusal as JSON with origin_not_allowed', async () => {
    const a = await account(server.url);
    const ws = new WebSocket(
      server.url.replace(/^http/, 'ws') + '/v1/ws',
      [PROTOCOL, AUTH_PROTOCOL_PREFIX + a.token],
      {
        origin: 'https://evil.example',
      },
    );
    const body = await new Promise<string>((resolve) => {
      ws.on('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(text));
      });
      ws.on('error', () => undefined);
    });
    expect(JSON.parse(body)).toMatchObject({ code: 'origin_not_allowed' });
  });
});
