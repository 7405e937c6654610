/**
 * PostgreSQL and Redis instances of a test's own (on free ports, in temp dirs), so fault
 * tests can restart them without touching the machine's shared services.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function pgBinDir(): string | null {
  const pgConfig = which('pg_config');
  if (pgConfig) {
    const dir = execFileSync(pgConfig, ['--bindir'], { encoding: 'utf8' }).trim();
    if (existsSync(join(dir, 'initdb'))) return dir;
  }
  return null;
}

/** Null when own instances can be started here; otherwise why not. */
export function ownServicesUnavailable(): string | null {
  if (!which('redis-server')) return 'redis-server is not installed';
  if (!pgBinDir()) return 'PostgreSQL server binaries (initdb, pg_ctl) are not installed';
  if (process.getuid?.() === 0 && spawnSync('id', ['postgres']).status !== 0) {
    return 'running as root without a postgres user to run PostgreSQL as';
  }
  return null;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface OwnRedis {
  url: string;
  /** SIGKILL the server (it keeps nothing on disk). */
  kill(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    for (let i = 0; i < 100; i++) {
      if (
        spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG'
      )
        return;
      await wait(50);
    }
    throw new Error('own redis-server did not start');
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, kill, start, stop: kill };
}

export interface OwnPostgres {
  /** URL of a database `parley` on this instance. */
  url: string;
  /** URLs of the databases made at start: `parley`, then `parley_2`, … */
  urls: string[];
  /** Stop (fast: every connection is dropped) and start again on the same port. */
  restart(downMs?: number): Promise<void>;
  /** Stop (fast), keeping the data, until `up()`. */
  down(): void;
  up(): void;
  stop(): Promise<void>;
}

/** A PostgreSQL instance of the test's own, with `databases` empty databases (default 1). */
export async function startOwnPostgres(databases = 1): Promise<OwnPostgres> {
  const bin = pgBinDir();
  if (!bin) throw new Error('no PostgreSQL binaries');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'parley-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync('chown', ['postgres', dir]);
  const run = (cmd: string, args: string[]) =>
    execFileSync(
      asRoot ? 'runuser' : join(bin, cmd),
      asRoot ? ['-u', 'postgres', '--', join(bin, cmd), ...args] : args,
      {
        stdio: 'ignore',
      },
    );
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const pgCtl = (...args: string[]) => run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', ...args]);
  pgCtl('-o', opts, 'start');
  const names = Array.from({ length: databases }, (_, i) => (i === 0 ? 'parley' : `parley_${i + 1}`));
  for (const name of names) {
    execFileSync(
      'psql',
      ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-c', `CREATE DATABASE ${name}`],
      {
        stdio: 'ignore',
      },
    );
  }
  const urls = names.map((name) => `postgres://postgres@127.0.0.1:${port}/${name}`);
  return {
    url: urls[0] as string,
    urls,
    async restart(downMs = 1000) {
      pgCtl('-m', 'fast', 'stop');
      await wait(downMs);
      pgCtl('-o', opts, 'start');
    },
    down: () => pgCtl('-m', 'fast', 'stop'),
    up: () => pgCtl('-o', opts, 'start'),
    async stop() {
      try {
        pgCtl('-m', 'immediate', 'stop');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
