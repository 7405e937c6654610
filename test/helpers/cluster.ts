/**
 * Cluster tests: 1 API server and N chat servers as real processes on the machine's
 * PostgreSQL and Redis, with their own database and Redis key prefix, removed afterwards.
 * Where the services are missing the tests report "skipped: …" (PARLEY_REQUIRE_SERVICES=1,
 * as in CI, turns that into a failure).
 */
import { startServer } from './server.js';
import type { ServerHandle } from './server.js';
import {
  REDIS_URL,
  createTestDatabase,
  dropRedisPrefix,
  pgAvailable,
  redisAvailable,
  testRedisPrefix,
} from './services.js';

export interface Cluster {
  api: ServerHandle;
  chats: ServerHandle[];
  /** The store's database URLs, comma-separated (as `--db` takes them). */
  db: string;
  redis: string;
  prefix: string;
  /** Start another chat server in this cluster. */
  addChat(id: string, extra?: string[]): Promise<ServerHandle>;
  stop(): Promise<void>;
}

/** Null when PostgreSQL and Redis are reachable; otherwise why the cluster tests can't run. */
export async function clusterUnavailable(): Promise<string | null> {
  const reasons = (await Promise.all([pgAvailable(), redisAvailable()])).filter(
    (r): r is string => r !== null,
  );
  if (reasons.length === 0) return null;
  const why = reasons.join('; ');
  if (process.env.PARLEY_REQUIRE_SERVICES) throw new Error(`cluster tests need PostgreSQL and Redis: ${why}`);
  console.warn(`skipped: ${why}`);
  return why;
}

/**
 * Databases of a test cluster's store: 1, or PARLEY_CLUSTER_SHARDS. The tests that need a
 * sharded store ask for one (`shards` or `db`); the whole suite runs on two databases with
 * PARLEY_CLUSTER_SHARDS=2 (the SIGKILL fault test still loses messages there now and then).
 */
export const CLUSTER_SHARDS = Number(process.env.PARLEY_CLUSTER_SHARDS ?? 1);

export async function startCluster(
  opts: {
    chats?: number;
    args?: string[];
    redis?: string;
    /** The store's database URLs (kept afterwards); default: `shards` new test databases. */
    db?: string[];
    shards?: number;
  } = {},
): Promise<Cluster> {
  const databases = opts.db
    ? opts.db.map((url) => ({ url, drop: async () => undefined }))
    : await Promise.all(Array.from({ length: opts.shards ?? CLUSTER_SHARDS }, () => createTestDatabase()));
  const database = {
    url: databases.map((d) => d.url).join(','),
    drop: async () => {
      await Promise.all(databases.map((d) => d.drop()));
    },
  };
  const prefix = testRedisPrefix();
  const redis = opts.redis ?? REDIS_URL;
  const common = ['--db', database.url, '--redis', redis, '--redis-prefix', prefix, ...(opts.args ?? [])];
  const started: ServerHandle[] = [];
  const chats: ServerHandle[] = [];
  const addChat = async (id: string, extra: string[] = []) => {
    const s = await startServer({ args: ['--role', 'chat', '--server-id', id, ...common, ...extra] });
    started.push(s);
    chats.push(s);
    return s;
  };
  try {
    const api = await startServer({ args: ['--role', 'api', '--server-id', 'api', ...common] });
    started.push(api);
    for (let i = 1; i <= (opts.chats ?? 3); i++) await addChat(`chat-${i}`);
    return {
      api,
      chats,
      db: database.url,
      redis,
      prefix,
      addChat,
      async stop() {
        await Promise.all(started.map((s) => s.kill()));
        for (const s of started) s.cleanup();
        await database.drop().catch(() => undefined);
        if (redis === REDIS_URL) await dropRedisPrefix(prefix).catch(() => undefined);
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.kill()));
    await database.drop().catch(() => undefined);
    throw err;
  }
}

/** WebSocket URL of a chat server (to pin a client to it). */
export const wsOf = (s: ServerHandle): string => `${s.url.replace(/^http/, 'ws')}/v1/ws`;
