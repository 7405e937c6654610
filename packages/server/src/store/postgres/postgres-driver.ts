/**
 * The PostgreSQL driver: connection pools, error mapping, transactions and migrations, and
 * the placement of rows over one or several databases (shards).
 *
 * Placement: a deployment has a fixed number of logical shards (`spaces`, read from the
 * catalog database at open). A key (conversation id, user id, username, token hash, direct
 * pair) belongs to logical shard `placementHash(key) % spaces`, and each logical shard lives
 * on one database (contiguous ranges by default, or a shard map). Moving a logical shard to
 * another database changes the map, never the hash, so no key is rehashed.
 */
import pg from 'pg';
import type { CustomTypesConfig, PoolClient, QueryResultRow } from 'pg';
import { ParleyError } from '@parley/protocol';
import { shardOfKey } from '../common/shard-hash.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';

export interface PostgresStoreOptions {
  /**
   * Connection URL, e.g. `postgres://parley:secret@db:5432/parley`, or one URL per database
   * of a sharded deployment (the first is the catalog).
   */
  url: string | readonly string[];
  /**
   * For each logical shard, the index in `url` of its database; default: contiguous ranges
   * (shard s on database floor(s × databases / shards)).
   */
  shardMap?: readonly number[];
  /** Most pooled connections of this process, per database. Default 10. */
  max?: number;
  /**
   * Hash partitions of the `messages` table. Default 16. Only read when the schema is first
   * created; changing it later needs a repartitioning migration.
   */
  messagePartitions?: number;
  /** Wait this long for a connection (new or from a busy pool) before failing with `unavailable`, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Pooled connections idle this long are closed, ms. Default 60000. */
  idleTimeoutMs?: number;
}

/**
 * Advisory lock keys (`pg_advisory_xact_lock(bigint)`); arbitrary constants that only have
 * to differ from each other and from locks other software takes on the same database.
 */
const MIGRATE_LOCK = 0x7061726c01; // 'parl' 01

/** int8 (timestamps, seq, pos, counts) as JS numbers: every value stays below 2^53. */
const INT8_OID = 20;
const TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};

// ---- errors ----

/** Socket errors: the database cannot be reached. */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
/** node-postgres reports a lost or unobtainable connection with these messages (no code). */
const CONNECTION_LOST =
  /^(Connection terminated|Connection ended|Client has encountered a connection error|timeout exceeded when trying to connect|Query read timeout)/;

/** SQLSTATEs a retry may fix: connection exceptions, shutdown, overload, lost races. */
function retryableState(code: string): boolean {
  return (
    code.startsWith('08') || // connection_exception
    code.startsWith('57P') || // admin/crash shutdown, cannot_connect_now
    code === '53300' || // too_many_connections
    code === '40001' || // serialization_failure
    code === '40P01' || // deadlock_detected
    code === '55P03' // lock_not_available
  );
}

/**
 * Map a driver error to the store's contract: `ParleyError('unavailable')` when the engine
 * cannot be reached or the connection drops (callers then reply with a retryable error,
 * never a false ack; when a connection drops during COMMIT the outcome is unknown, and the
 * client's resend is made safe by idempotency on (senderId, clientId)).
 */
export function mapError(err: unknown): unknown {
  if (err instanceof ParleyError) return err;
  if (err instanceof pg.DatabaseError) {
    if (err.code && retryableState(err.code)) return new ParleyError('unavailable');
    // NUL or unencodable characters (the embedded store takes them; names are validated first).
    if (err.code === '22021' || err.code === '22P05') return new ParleyError('invalid_field');
    return err;
  }
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'string' && CONNECTION_ERRORS.has(e.code)) return new ParleyError('unavailable');
  if (typeof e?.message === 'string' && CONNECTION_LOST.test(e.message))
    return new ParleyError('unavailable');
  return err;
}

/** A unique violation of `constraint`, before mapping. */
export function isUniqueViolation(err: unknown, constraint: string): boolean {
  return err instanceof pg.DatabaseError && err.code === '23505' && err.constraint === constraint;
}

/** What a statement runs on: the pool, or a transaction's connection. */
export interface Queryable {
  query<R extends QueryResultRow>(
    text: string | { name?: string; text: string; values?: unknown[] },
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** One database: its pool and the ways to run statements on it. */
export class PgDatabase {
  constructor(
    /** Index in the deployment's list of databases (0: the catalog). */
    readonly index: number,
    readonly pool: pg.Pool,
  ) {}

  /**
   * Rows of one statement outside a transaction; driver errors mapped (see mapError). `name`
   * makes it a prepared statement, parsed and planned once per connection: for the hot ones
   * of the connect and catch-up paths, whose planning cost as much as their execution. Only
   * for statements that list their result columns: a `*` would fail with "cached plan must
   * not change result type" once a migration by a newer process adds a column.
   */
  async rows<R extends QueryResultRow>(text: string, values?: unknown[], name?: string): Promise<R[]> {
    try {
      return (await this.pool.query<R>(name === undefined ? { text, values } : { name, text, values })).rows;
    } catch (err) {
      throw mapError(err);
    }
  }

  /** Run `fn` in a transaction on one pooled connection; the promise settles after COMMIT. */
  async transaction<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw mapError(err);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone: drop it rather than return it to the pool
      }
      throw mapError(err);
    } finally {
      client.release(broken);
    }
  }
}

/** The databases of a deployment and where each key's rows live. */
export class PgShards {
  private constructor(
    readonly databases: readonly PgDatabase[],
    /** Logical shards, which are also the feed's position spaces. */
    readonly spaces: number,
    private readonly map: readonly number[],
  ) {}

  /** Connect to every database and migrate each. Several processes may call this at once. */
  static async open(opts: PostgresStoreOptions): Promise<PgShards> {
    const urls = typeof opts.url === 'string' ? [opts.url] : [...opts.url];
    if (urls.length === 0) throw new Error('no PostgreSQL URL given');
    const pools = urls.map(
      (url) =>
        new pg.Pool({
          connectionString: url,
          max: opts.max ?? 10,
          connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
          idleTimeoutMillis: opts.idleTimeoutMs ?? 60_000,
          application_name: 'parley',
          // No JIT compilation: every statement here is short. A batch's estimated cost (rows
          // of an unnest × per-row probes) passes jit_above_cost easily, and compiling then
          // took ~300 ms per statement for work of a few milliseconds.
          options: '-c jit=off',
          types: TYPES,
        }),
    );
    for (const pool of pools) {
      // A connection that dies (idle in the pool or checked out) emits 'error'; unhandled,
      // that would crash the process. The query in flight, if any, rejects and is mapped to
      // `unavailable`; the pool replaces the connection.
      pool.on('error', () => {});
      pool.on('connect', (client) => client.on('error', () => {}));
    }
    const databases = pools.map((pool, i) => new PgDatabase(i, pool));
    try {
      for (const db of databases) {
        await db.transaction(async (c) => {
          await c.query(`SELECT pg_advisory_xact_lock(${MIGRATE_LOCK})`);
          await migrate(c, opts.messagePartitions ?? 16);
        });
      }
      const [row] = await (databases[0] as PgDatabase).rows<{ value: string }>(
        `SELECT value FROM server_values WHERE key = 'logical_shards'`,
      );
      const spaces = Number(row?.value ?? 1);
      const map =
        opts.shardMap ?? Array.from({ length: spaces }, (_, s) => Math.floor((s * urls.length) / spaces));
      checkMap(map, spaces, urls.length);
      return new PgShards(databases, spaces, map);
    } catch (err) {
      await Promise.all(pools.map((p) => p.end().catch(() => {})));
      throw mapError(err);
    }
  }

  /** The catalog: database 0, which holds the deployment's server values. */
  get catalog(): PgDatabase {
    return this.databases[0] as PgDatabase;
  }
  get single(): boolean {
    return this.databases.length === 1;
  }

  shardOf(key: string): number {
    return shardOfKey(key, this.spaces);
  }
  ofShard(shard: number): PgDatabase {
    return this.databases[this.map[shard] as number] as PgDatabase;
  }
  /** The database of a key's logical shard (a conversation id, a user id, a username, ...). */
  of(key: string): PgDatabase {
    return this.single ? this.catalog : this.ofShard(this.shardOf(key));
  }

  /** Items grouped by the database `key` places them on, with their index in `items`. */
  group<T>(items: readonly T[], key: (item: T) => string): Map<PgDatabase, { item: T; i: number }[]> {
    const out = new Map<PgDatabase, { item: T; i: number }[]>();
    items.forEach((item, i) => {
      const db = this.of(key(item));
      let list = out.get(db);
      if (!list) out.set(db, (list = []));
      list.push({ item, i });
    });
    return out;
  }

  /** `fn` on every database at once. */
  all<T>(fn: (db: PgDatabase) => Promise<T>): Promise<T[]> {
    return Promise.all(this.databases.map(fn));
  }

  async close(): Promise<void> {
    await Promise.all(this.databases.map((db) => (db.pool.ended ? undefined : db.pool.end())));
  }
}

function checkMap(map: readonly number[], spaces: number, databases: number): void {
  if (map.length !== spaces)
    throw new Error(`the shard map has ${map.length} entries; this deployment has ${spaces} logical shards`);
  for (const d of map)
    if (!Number.isInteger(d) || d < 0 || d >= databases)
      throw new Error(`the shard map names database ${d}; there are ${databases}`);
  const used = new Set(map);
  if (used.size !== databases)
    throw new Error(
      spaces === 1
        ? 'this deployment was created with one logical shard: it cannot spread over several databases'
        : `the shard map leaves ${databases - used.size} of ${databases} databases unused`,
    );
}

async function migrate(c: Queryable, messagePartitions: number): Promise<void> {
  await c.query(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  const { rows } = await c.query<{ version: number }>('SELECT version FROM schema_migrations');
  const done = new Set(rows.map((r) => r.version));
  for (const m of POSTGRES_MIGRATIONS) {
    if (done.has(m.version)) continue;
    await c.query(m.sql({ messagePartitions }));
    await m.after?.(c);
    await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
  }
}
