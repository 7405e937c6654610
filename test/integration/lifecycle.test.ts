/** Health, metrics, graceful shutdown and the CLI. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, startServer } from '../helpers/server.js';
import { RawSocket } from '../helpers/raw.js';
import { newUser } from '../helpers/sdk.js';

describe('operations', () => {
  it('answers health, readiness and Prometheus metrics', async () => {
    const server = await startServer();
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      const a = await newUser(server.url);
      const b = await newUser(server.url);
      const c = await a.http.direct({ username: b.username });
      await a.http.send(c.id, { clientId: 'm1', text: 'hello' });
      await a.http.send(c.id, { clientId: 'm1', text: 'hello' });
      await a.http.send(c.id, { clientId: 'm2', text: '' }).catch(() => undefined);
      const sock = await RawSocket.open(server.url, b.session.token);
      await sock.until((f) => f.some((x) => x.type === 'ready'));
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/^parley_connections 1$/m);
      expect(metrics).toMatch(/^parley_messages_in_total 1$/m);
      expect(metrics).toMatch(/^parley_duplicate_sends_total 1$/m);
      expect(metrics).toMatch(/^parley_errors_total\{code="text_empty"\} 1$/m);
      expect(metrics).toMatch(/^parley_store_write_seconds_count \d+$/m);
      sock.close();
    } finally {
      await server.stop();
      server.cleanup();
    }
  });

  it('drains on SIGTERM: sockets close with 1001 and the process exits 0', async () => {
    const server = await startServer();
    const a = await newUser(server.url);
    const sock = await RawSocket.open(server.url, a.session.token);
    await sock.until((f) => f.some((x) => x.type === 'ready'));
    const closed = sock.waitClose();
    const code = await server.stop();
    expect(await closed).toBe(1001);
    expect(code).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');
    server.cleanup();
  });

  it('parley user add creates an account and parley chat talks to it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-cli-'));
    try {
      for (const name of ['clia', 'clib']) {
        const r = spawnSync(
          process.execPath,
          [CLI, 'user', 'add', name, '--data-dir', dataDir, '--scrypt-log-n', '10'],
          {
            env: { ...process.env, PARLEY_PASSWORD: 'password123' },
            encoding: 'utf8',
          },
        );
        expect(r.status, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ username: name });
      }
      const dup = spawnSync(
        process.execPath,
        [CLI, 'user', 'add', 'clia', '--data-dir', dataDir, '--scrypt-log-n', '10'],
        {
          env: { ...process.env, PARLEY_PASSWORD: 'password123' },
          encoding: 'utf8',
        },
      );
      expect(dup.status).toBe(1);
      expect(dup.stderr).toContain('already taken');
      const server = await startServer({ dataDir });
      try {
        const bob = await (async () => {
          const { ParleyHttp } = await import('@parley/client');
          const http = new ParleyHttp({ baseUrl: server.url });
          const s = await http.login({ username: 'clib', password: 'password123' });
          http.setToken(s.token);
          return http;
        })();
        const proc = spawn(process.execPath, [CLI, 'chat', '--url', server.url, '--username', 'clia'], {
          env: { ...process.env, PARLEY_PASSWORD: 'password123' },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let out = '';
        proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
        proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const waitFor = async (text: string) => {
          const deadline = Date.now() + 15_000;
          while (!out.includes(text)) {
            if (Date.now() > deadline) throw new Error(`chat never printed ${text}:\n${out}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        };
        await waitFor('Logged in as clia');
        proc.stdin.write('/dm clib\n');
        await waitFor('-- clib (direct');
        proc.stdin.write('hello from the terminal\n');
        await waitFor('you: hello from the terminal');
        const conv = (await bob.conversations()).conversations[0]!;
        expect(conv.lastMessage?.text).toBe('hello from the terminal');
        await bob.send(conv.id, { clientId: 'reply', text: 'hello back' });
        await waitFor('clib: hello back');
        proc.stdin.write('/list\n');
        await waitFor('1. clib');
        proc.stdin.write('/quit\n');
        const exit = await new Promise<number | null>((r) => proc.once('exit', r));
        expect(exit).toBe(0);
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
