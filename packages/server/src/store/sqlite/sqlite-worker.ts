/**
 * The embedded store's thread: owns the SQLite connection and runs every store call, so
 * commits, WAL writes and checkpoints never block the event loop that serves the sockets.
 * Protocol (thread-calls.ts): a `Call` in, a `Reply` out; a call with an `aggregate` runs
 * `store[aggregate][method]`, one without runs one of the thread's own methods.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { ParleyError } from '@parley/protocol';
import { SqliteStore } from './sqlite-store.js';
import type { SqliteStoreOptions } from './sqlite-store.js';
import { packResults, unpackBatch } from './append-codec.js';
import type { Call, Reply, ThreadMethod } from './thread-calls.js';

if (!parentPort) throw new Error('sqlite-worker runs as a worker thread');
const port: MessagePort = parentPort;
const reply = (r: Reply) => port.postMessage(r);

let store: SqliteStore;
try {
  store = new SqliteStore(workerData as SqliteStoreOptions);
  reply({ id: 0, ok: true, value: 'ready' });
} catch (err) {
  reply({ id: 0, ok: false, error: { message: (err as Error).message } });
  throw err;
}

type Method = (...args: unknown[]) => Promise<unknown>;

const own: { readonly [M in ThreadMethod]: Method } = {
  // The threaded store packs appends (append-codec.ts).
  appendPacked: async (batch) =>
    packResults(await store.messages.appendMessages(unpackBatch(batch as unknown[]))),
  walCheckpoint: () => store.walCheckpoint(),
  ping: () => store.ping(),
  close: () => store.close(),
};

/** The method a call names, bound to its object; undefined when there is none. */
function methodOf(call: Call): Method | undefined {
  if (call.aggregate === undefined) return Object.hasOwn(own, call.method) ? own[call.method] : undefined;
  // The aggregate and method names are checked where the call is made (ROUTES); here they are data.
  const target = store[call.aggregate] as unknown as Record<string, unknown>;
  const fn = target[call.method];
  return typeof fn === 'function' ? (...args) => (fn as Method).apply(target, args) : undefined;
}

/** A full disk is a state clients can wait out (retryable), not an internal error. */
function storageFull(err: unknown): never {
  if ((err as { code?: unknown } | null)?.code === 'SQLITE_FULL') throw new ParleyError('storage_full');
  throw err;
}

port.on('message', (call: Call) => {
  const fn = methodOf(call);
  if (!fn) {
    const name = call.aggregate === undefined ? call.method : `${call.aggregate}.${call.method}`;
    reply({ id: call.id, ok: false, error: { message: `no store method ${name}` } });
    return;
  }
  fn(...call.args)
    .catch(storageFull)
    .then(
      (value) => reply({ id: call.id, ok: true, value }),
      (err: unknown) =>
        reply({
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
