/**
 * The external services cluster-mode tests use: PostgreSQL and Redis. Each run creates its
 * own database and Redis key prefix and removes them afterwards, so runs never share state
 * (with each other or with anything else on the machine).
 *
 * - `PARLEY_TEST_PG_URL`: an admin connection (may create and drop databases).
 *   Default postgres://postgres@127.0.0.1:5432/postgres.
 * - `PARLEY_TEST_REDIS_URL`: default redis://127.0.0.1:6379.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

export const PG_URL = process.env.PARLEY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.PARLEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const hostPort = (url: string, defaultPort: number): string => {
  const u = new URL(url);
  return `${u.hostname || '127.0.0.1'}:${u.port || defaultPort}`;
};

const uniqueName = (): string => `${process.pid}_${randomBytes(4).toString('hex')}`;

/** Run one statement on a short-lived admin connection (nothing outlives a call). */
async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}

let pgCheck: Promise<string | null> | undefined;
/** Null when PostgreSQL answers, else why not (e.g. "PostgreSQL not reachable at 127.0.0.1:5432"). */
export function pgAvailable(): Promise<string | null> {
  pgCheck ??= admin('SELECT 1').then(
    () => null,
    (err: Error) => `PostgreSQL not reachable at ${hostPort(PG_URL, 5432)} (${err.message})`,
  );
  return pgCheck;
}

let redisCheck: Promise<string | null> | undefined;
/** Null when Redis answers, else why not (e.g. "Redis not reachable at 127.0.0.1:6379"). */
export function redisAvailable(): Promise<string | null> {
  redisCheck ??= (async () => {
    const redis = new Redis(REDIS_URL, {
      lazyConnect: true,
      connectTimeout: 2000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    let cause: Error | undefined; // the socket error; connect() only says "Connection is closed."
    redis.on('error', (err: Error) => (cause ??= err));
    try {
      await redis.connect();
      await redis.ping();
      return null;
    } catch (err) {
      return `Redis not reachable at ${hostPort(REDIS_URL, 6379)} (${(cause ?? (err as Error)).message})`;
    } finally {
      redis.disconnect();
    }
  })();
  return redisCheck;
}

/** A fresh, empty database `parley_test_<pid>_<random>`; `drop()` removes it (closing stray connections). */
export async function createTestDatabase(
  template?: string,
): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `parley_test_${uniqueName()}`;
  await admin(`CREATE DATABASE ${name}${template !== undefined ? ` TEMPLATE ${template}` : ''}`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** A Redis key prefix no other run uses: `parley_test:<pid>_<random>:`. */
export function testRedisPrefix(): string {
  return `parley_test:${uniqueName()}:`;
}

/** Keys under a prefix (SCAN, never KEYS). */
export async function redisKeys(prefix: string): Promise<string[]> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  } finally {
    redis.disconnect();
  }
}

/** Delete every key under a prefix. */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const keys = await redisKeys(prefix);
  if (keys.length === 0) return;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  } finally {
    redis.disconnect();
  }
}
