/**
 * `--cluster`: the local cluster of `npm run cluster` (1 API server + 3 chat servers, each its
 * own process) on the machine's PostgreSQL and Redis, with a database and a Redis key prefix
 * of its own that are removed when the run ends.
 *
 * - `PARLEY_BENCH_PG_URL`: an admin connection that may create and drop databases
 *   (default postgres://postgres@127.0.0.1:5432/postgres).
 * - `PARLEY_BENCH_REDIS_URL`: default redis://127.0.0.1:6379.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { ServerHandle, StartOptions } from './processes.js';
import { startParley } from './processes.js';

export const PG_ADMIN_URL = process.env.PARLEY_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.PARLEY_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface ClusterOptions extends StartOptions {
  /** Chat servers. Default 3. */
  chats?: number;
  /** Databases of the store (a sharded store above 1). Default 1. */
  shards?: number;
}

/** Run one statement on the admin connection (create and drop databases). */
export async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query(sql);
  } catch (err) {
    throw new Error(`PostgreSQL at ${PG_ADMIN_URL}: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Delete every key under `prefix` (SCAN, never KEYS). */
async function dropPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function checkRedis(): Promise<void> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let cause: Error | undefined;
  redis.on('error', (err: Error) => (cause ??= err));
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis at ${REDIS_URL}: ${(cause ?? (err as Error)).message}`);
  } finally {
    redis.disconnect();
  }
}

/**
 * Pids of the PostgreSQL and Redis server processes on this machine (by command name), so
 * their CPU can be reported apart from Parley's and not counted as other jobs' load.
 */
export function servicePids(): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const comm = readFileSync(`/proc/${e}/comm`, 'utf8').trim();
      if (comm === 'postgres' || comm.startsWith('redis-server')) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** Start the cluster: the API server first (it migrates the new database), then the chat servers. */
export async function startCluster(opts: ClusterOptions = {}): Promise<ServerHandle> {
  const name = `parley_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const prefix = `parley_bench:${process.pid}_${randomBytes(4).toString('hex')}:`;
  await checkRedis();
  const names = Array.from({ length: opts.shards ?? 1 }, (_, i) => (i === 0 ? name : `${name}_${i + 1}`));
  const urls = names.map((n) => {
    const u = new URL(PG_ADMIN_URL);
    u.pathname = `/${n}`;
    return u.toString();
  });
  for (const n of names) await admin(`CREATE DATABASE ${n}`);
  const common = ['--db', urls.join(','), '--redis', REDIS_URL, '--redis-prefix', prefix];
  const started: ServerHandle[] = [];
  const cleanup = async () => {
    await Promise.all(started.map((s) => s.stop()));
    for (const n of names) {
      await admin(`DROP DATABASE IF EXISTS ${n} WITH (FORCE)`).catch((err: Error) =>
        process.stderr.write(`[cluster] could not drop ${n}: ${err.message}\n`),
      );
    }
    await dropPrefix(prefix).catch((err: Error) =>
      process.stderr.write(`[cluster] could not remove Redis keys ${prefix}*: ${err.message}\n`),
    );
  };
  const start = async (role: string, id: string) => {
    const s = await startParley({
      ...opts,
      name: id,
      serverArgs: ['--role', role, '--server-id', id, ...common, ...(opts.serverArgs ?? [])],
    });
    started.push(s);
    return s;
  };
  try {
    const api = await start('api', 'api-1');
    const chats: ServerHandle[] = [];
    for (let i = 1; i <= (opts.chats ?? 3); i++) chats.push(await start('chat', `chat-${i}`));
    return {
      url: api.url,
      pid: null,
      pids: started.flatMap((s) => s.pids),
      wsUrls: chats.flatMap((c) => c.wsUrls),
      servicePids: servicePids(),
      kind: 'cluster',
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
