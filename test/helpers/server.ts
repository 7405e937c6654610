/**
 * Integration tests start the real server process on a random port with a fresh data dir
 * and talk to it over real sockets.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'packages/server/dist/cli.js');

/** Options every test server gets: cheap password hashing and no per-IP limits in the way. */
export const TEST_FLAGS = [
  '--scrypt-log-n',
  '10',
  '--auth-rate-per-min',
  '100000',
  '--http-rate-per-min',
  '1000000',
  '--log-level',
  'warn',
];

export interface ServerHandle {
  url: string;
  port: number;
  dataDir: string;
  proc: ChildProcess;
  /** Everything the process wrote, for diagnostics. */
  output(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Remove the data dir (after stop). */
  cleanup(): void;
}

export async function startServer(
  opts: { dataDir?: string; port?: number; args?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<ServerHandle> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'parley-test-'));
  const proc = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      '--port',
      String(opts.port ?? 0),
      '--host',
      '127.0.0.1',
      '--data-dir',
      dataDir,
      ...TEST_FLAGS,
      ...(opts.args ?? []),
    ],
    { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 20_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const j = JSON.parse(line) as { msg?: string; port?: number };
          if (j.msg === 'listening' && j.port) {
            clearTimeout(timer);
            resolve(j.port);
          }
        } catch {
          // partial line
        }
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await exited;
    },
    cleanup() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
