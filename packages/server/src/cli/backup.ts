/**
 * `parley backup` and `parley restore`: a consistent copy of the embedded store taken while
 * the server runs, and putting one back into a data directory.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { DEFAULT_CONFIG } from '../config.js';

const DB_FILE = 'parley.db';

function dataDirOf(value: string | undefined): string {
  return value ?? process.env.PARLEY_DATA_DIR ?? DEFAULT_CONFIG.dataDir;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `PRAGMA integrity_check` of a database file: 'ok' or the first problems found. */
export function integrityCheck(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check(20)') as Array<{ integrity_check: string }>;
    return rows.map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

/** Whether a database file holds Parley's tables (a backup of something else is refused). */
function isParleyStore(path: string): boolean {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'messages')")
      .pluck()
      .all();
    return tables.length === 2;
  } finally {
    db.close();
  }
}

/**
 * Whether some process has the database open. A connection in WAL mode keeps a shared lock
 * on the database file while it is open, so an exclusive lock is refused while the server runs.
 */
export function databaseInUse(path: string): boolean {
  if (!existsSync(path)) return false;
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE; COMMIT');
    return false;
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) return true;
    throw err;
  } finally {
    db.close();
  }
}

/**
 * `parley backup --to FILE [--data-dir DIR]`: `VACUUM INTO` reads one snapshot (a WAL read
 * transaction, which never blocks the server's writes) and writes it as a compact database.
 * It goes to a temporary name first, so FILE is either a whole backup or absent.
 */
export async function backup(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { to: { type: 'string' }, 'data-dir': { type: 'string' } },
    strict: true,
  });
  const to = values.to;
  if (!to) throw new Error('usage: parley backup --to FILE [--data-dir DIR]');
  const source = join(dataDirOf(values['data-dir']), DB_FILE);
  if (!existsSync(source)) throw new Error(`no database at ${source}`);
  const target = resolve(to);
  if (existsSync(target)) throw new Error(`${target} exists; choose a new file`);
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  const tmp = `${target}.part-${process.pid}`;
  // Created owner-only and empty (VACUUM INTO accepts an empty file): it holds every message.
  closeSync(openSync(tmp, 'wx', 0o600));
  const started = Date.now();
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    db.prepare('VACUUM INTO ?').run(tmp);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    db.close();
  }
  const check = integrityCheck(tmp);
  if (check !== 'ok') {
    rmSync(tmp, { force: true });
    throw new Error(`the backup failed its integrity check: ${check}`);
  }
  fsyncPath(tmp);
  renameSync(tmp, target);
  fsyncPath(dirname(target));
  const bytes = statSync(target).size;
  process.stdout.write(`${JSON.stringify({ backup: target, bytes, ms: Date.now() - started })}\n`);
}

/**
 * `parley restore --from FILE --data-dir DIR [--force]`: checks the backup, then replaces the
 * data directory's database with it. Old -wal and -shm files go too: SQLite would otherwise
 * apply the old database's log to the restored one.
 */
export async function restore(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { from: { type: 'string' }, 'data-dir': { type: 'string' }, force: { type: 'boolean' } },
    strict: true,
  });
  const from = values.from;
  const dir = values['data-dir'] ?? process.env.PARLEY_DATA_DIR;
  if (!from || !dir) throw new Error('usage: parley restore --from FILE --data-dir DIR [--force]');
  if (!existsSync(from)) throw new Error(`no backup at ${from}`);
  const check = integrityCheck(from);
  if (check !== 'ok') throw new Error(`${from} failed its integrity check: ${check}`);
  if (!isParleyStore(from)) throw new Error(`${from} is not a Parley database`);
  const dbPath = join(dir, DB_FILE);
  const entries = existsSync(dir) ? readdirSync(dir) : [];
  if (entries.length > 0 && !values.force)
    throw new Error(`${dir} is not empty; add --force to replace its database`);
  if (databaseInUse(dbPath)) throw new Error(`${dbPath} is open in a running server; stop it first`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `${DB_FILE}.restore-${process.pid}`);
  closeSync(openSync(tmp, 'w', 0o600));
  const src = new Database(from, { readonly: true, fileMustExist: true });
  try {
    // The online backup API copies every page, whatever journal mode the file was left in.
    await src.backup(tmp);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    src.close();
  }
  fsyncPath(tmp);
  for (const suffix of ['-wal', '-shm', '-journal']) rmSync(dbPath + suffix, { force: true });
  renameSync(tmp, dbPath);
  fsyncPath(dir);
  process.stdout.write(`${JSON.stringify({ restored: resolve(dbPath), from: resolve(from) })}\n`);
}
