/**
 * The embedded store's connection: opening the file with its pragmas, the schema migrations,
 * prepared statements, transactions, and what tells a damaged file apart.
 */
import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { SQLITE_MIGRATIONS } from './migrations.js';
import type { SqliteMigration } from './migrations.js';

export interface SqliteStoreOptions {
  /** Database file path, or ':memory:'. */
  path: string;
  /**
   * `normal` (default): WAL with synchronous=NORMAL; a committed transaction survives a
   * process crash or SIGKILL (the WAL is written before commit returns) but the last
   * commits may be lost on power failure. `full`: fsync at every commit (group commit
   * amortizes it) so commits also survive power loss.
   */
  durability?: 'normal' | 'full';
  /**
   * `writer` (default): migrates the schema and writes. `reader`: a read-only connection to
   * a file a writer has open (WAL lets it read while the writer commits); it serves the pure
   * reads of the threaded store. `checkpointer`: only runs `walCheckpoint` (copies WAL frames
   * into the database file off the writer's thread).
   */
  role?: 'writer' | 'reader' | 'checkpointer';
  /**
   * WAL pages after which a commit runs a checkpoint itself (SQLite's `wal_autocheckpoint`).
   * Default 10,000: fewer, larger checkpoints write a page that several commits touched once.
   * The threaded store raises it: its checkpointer thread does that work.
   */
  walAutocheckpoint?: number;
  /**
   * Writer only: run `PRAGMA quick_check` when opening (it reads every page; docs/deploy.md §8
   * gives its cost) and refuse a damaged file. Default false; the server turns it on.
   */
  quickCheck?: boolean;
}

/** An error SQLite raises for a damaged file (`SQLITE_CORRUPT*`) or one that is not a database. */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/** Page size of new database files (existing files keep theirs: changing it needs a VACUUM). */
export const SQLITE_NEW_PAGE_SIZE = 4096;

/**
 * The embedded store's directory and files (at `path`) that users other than the owner may
 * read or write, each with its mode in octal; none on Windows, which has no such modes.
 */
export function looseDataModes(path: string): string[] {
  if (process.platform === 'win32') return [];
  const loose: string[] = [];
  for (const p of [dirname(path), path, `${path}-wal`, `${path}-shm`]) {
    let mode: number;
    try {
      mode = statSync(p).mode & 0o777;
    } catch {
      continue; // not created (yet)
    }
    if ((mode & 0o077) !== 0) loose.push(`${p} (${mode.toString(8).padStart(4, '0')})`);
  }
  return loose;
}

/** Positional parameters, or one object of named ones (`@name`). */
type Params = unknown[] | object;

/** One SQLite connection, opened for its role. */
export class SqliteDriver {
  private readonly db: Database.Database;

  constructor(opts: SqliteStoreOptions) {
    const role = opts.role ?? 'writer';
    if (role === 'writer' && opts.path !== ':memory:') {
      // Every message, password and token hash and the VAPID private key live here: owner only.
      // SQLite gives the -wal and -shm files the database file's mode.
      mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
      closeSync(openSync(opts.path, 'a', 0o600));
    }
    this.db = new Database(opts.path, { readonly: role === 'reader', fileMustExist: role !== 'writer' });
    if (role === 'writer') {
      if (opts.path !== ':memory:' && this.pragmaNumber('page_count') === 0)
        this.db.pragma(`page_size = ${SQLITE_NEW_PAGE_SIZE}`);
      this.db.pragma('journal_mode = WAL');
      const autocheckpoint = opts.walAutocheckpoint ?? 10_000;
      this.db.pragma(`wal_autocheckpoint = ${autocheckpoint}`);
      // After a checkpoint lets the WAL start over, cut the file back to this size: no smaller
      // than the WAL grows between two checkpoints, so that a busy WAL is overwritten in place.
      // Cutting it back to 64 MB while it grew to ~120 MB a second made every WAL restart
      // re-allocate the file's blocks, and the fsync of the next checkpoint wait for that
      // (dm at 10,000 msgs/s: p99 58 -> 33 ms; docs/performance.md).
      const pageSize = this.pragmaNumber('page_size');
      this.db.pragma(`journal_size_limit = ${Math.max(64 * 1024 * 1024, autocheckpoint * pageSize)}`);
    }
    this.db.pragma(`synchronous = ${opts.durability === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma(`cache_size = ${role === 'checkpointer' ? -2048 : -65536}`);
    this.db.pragma('temp_store = MEMORY');
    if (role === 'writer' && opts.quickCheck) this.quickCheck(opts.path);
    if (role === 'writer') this.migrate();
  }

  /** A statement prepared once; `R` is the type of a row (of its only column, for `pluck`). */
  prepare<P extends Params, R = never>(sql: string): Statement<P, R> {
    return this.db.prepare<P, R>(sql);
  }

  /** `prepare` of a statement whose rows are the value of their one column. */
  pluck<P extends Params, R>(sql: string): Statement<P, R> {
    const statement = this.prepare<P, R>(sql);
    statement.pluck();
    return statement;
  }

  /** A read transaction (deferred): its statements share one snapshot. */
  readTx<F extends (...args: never[]) => unknown>(fn: F): F {
    return this.db.transaction(fn) as unknown as F;
  }

  /**
   * A transaction that writes, begun with BEGIN IMMEDIATE. A deferred transaction that reads
   * first asks for the write lock only at its first write, and in WAL mode that upgrade fails
   * at once with SQLITE_BUSY ("database is locked"), without the busy timeout, if another
   * connection holds the lock for a moment (the reader and checkpointer connections take it
   * briefly when they catch the WAL-index header mid-update). BEGIN IMMEDIATE takes the lock
   * first and waits for it like any other lock.
   */
  writeTx<F extends (...args: never[]) => unknown>(fn: F): F {
    return this.db.transaction(fn).immediate as unknown as F;
  }

  /**
   * Copy WAL frames into the database file (PASSIVE: never waits for, nor blocks, the
   * writer or readers). Run by the writer it also finishes the job, so that its next commit
   * starts the WAL over from the beginning.
   */
  walCheckpoint(): { log: number; checkpointed: number } {
    const [r] = this.db.pragma('wal_checkpoint(PASSIVE)') as {
      busy: number;
      log: number;
      checkpointed: number;
    }[];
    return { log: r?.log ?? 0, checkpointed: r?.checkpointed ?? 0 };
  }

  ping(): void {
    this.db.prepare('SELECT 1').get();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private pragmaNumber(name: string): number {
    return this.db.pragma(name, { simple: true }) as number;
  }

  /** Refuse to serve from a damaged file: every later write would go into it. */
  private quickCheck(path: string): void {
    let problems: string[];
    try {
      const rows = this.db.pragma('quick_check(5)') as { quick_check: string }[];
      // One line per problem; SQLite heads them with "*** in database main ***".
      problems = rows
        .flatMap((r) => r.quick_check.split('\n'))
        .filter((line) => line !== 'ok' && !line.startsWith('***'));
    } catch (err) {
      if (!isCorruption(err)) throw err;
      problems = [(err as Error).message];
    }
    if (problems.length === 0) return;
    this.db.close();
    throw new Error(
      `${path} is damaged (PRAGMA quick_check: ${problems.join('; ')}): restore it from a backup (parley restore) before serving`,
    );
  }

  private migrate(): void {
    const version = this.pragmaNumber('user_version');
    for (let v = version; v < SQLITE_MIGRATIONS.length; v++) {
      const migration = SQLITE_MIGRATIONS[v] as SqliteMigration;
      this.writeTx(() => {
        if (typeof migration === 'string') this.db.exec(migration);
        else migration(this.db);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }
}
