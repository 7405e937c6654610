/**
 * The embedded store's thread: owns the SQLite connection and runs every store call, so
 * commits, WAL writes and checkpoints never block the event loop that serves the sockets.
 * Protocol: { id, method, args } in; { id, ok: true, value } or { id, ok: false, error } out.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { ParleyError } from '@parley/protocol';
import { SqliteStore } from './sqlite-store.js';
import type { SqliteStoreOptions } from './sqlite-store.js';
import { packResults, unpackBatch } from './append-codec.js';

interface Call {
  id: number;
  method: string;
  args: unknown[];
}

if (!parentPort) throw new Error('sqlite-worker runs as a worker thread');
const port: MessagePort = parentPort;

let store: SqliteStore;
try {
  store = new SqliteStore(workerData as SqliteStoreOptions);
  port.postMessage({ id: 0, ok: true, value: 'ready' });
} catch (err) {
  port.postMessage({ id: 0, ok: false, error: { message: (err as Error).message } });
  throw err;
}

/** Calls the threaded store packs (append-codec.ts), by name. */
const packed: Record<string, (...a: unknown[]) => Promise<unknown>> = {
  appendPacked: async (batch) =>
    packResults(await store.messages.appendMessages(unpackBatch(batch as unknown[]))),
};

/** A full disk is a state clients can wait out (retryable), not an internal error. */
function storageFull(err: unknown): never {
  if ((err as { code?: unknown } | null)?.code === 'SQLITE_FULL') throw new ParleyError('storage_full');
  throw err;
}

type Methods = Record<string, (...a: unknown[]) => Promise<unknown>>;
/** The store and its aggregates, searched in turn for the method called. */
const targets = [
  store,
  store.accounts,
  store.conversations,
  store.messages,
  store.social,
  store.push,
  store.values,
] as unknown as Methods[];

port.on('message', (call: Call) => {
  const target = targets.find((t) => typeof t[call.method] === 'function');
  const fn = packed[call.method] ?? target?.[call.method];
  if (typeof fn !== 'function') {
    port.postMessage({ id: call.id, ok: false, error: { message: `no store method ${call.method}` } });
    return;
  }
  fn.apply(target, call.args)
    .catch(storageFull)
    .then(
      (value) => port.postMessage({ id: call.id, ok: true, value }),
      (err: unknown) =>
        port.postMessage({
          id: call.id,
          ok: false,
          error:
            err instanceof ParleyError
              ? { code: err.code, message: err.message }
              : {
                  message: err instanceof Error ? err.message : String(err),
                  // SQLite's own code (`SQLITE_CORRUPT`, ...): the threaded store stops on a damaged file.
                  sqlite:
                    typeof (err as { code?: unknown }).code === 'string'
                      ? (err as { code: string }).code
                      : undefined,
                },
        }),
    );
});
