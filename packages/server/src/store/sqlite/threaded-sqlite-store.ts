import { Worker } from 'node:worker_threads';
import { ParleyError, isErrorCode } from '@parley/protocol';
import type { Store, StoreCapabilities } from '../store.js';
import type { SqliteStoreOptions } from './sqlite-store.js';

type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { code?: string; message: string } };

/**
 * The embedded store on its own thread (the default for `parley serve`): the same
 * SqliteStore, running in a worker, behind the same `Store` interface. better-sqlite3 is
 * synchronous, so on the main thread every commit (and WAL checkpoint) would stall every
 * socket; here the event loop keeps serving while the worker writes, and the two use both
 * cores. Calls are answered in order; a ParleyError keeps its code across the thread.
 */
export async function openThreadedSqliteStore(opts: SqliteStoreOptions): Promise<Store> {
  const script = new URL('./sqlite-worker.js', import.meta.url);
  const worker = new Worker(script, { workerData: opts });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let failed: Error | null = null;

  const ready = new Promise<void>((resolve, reject) => {
    pending.set(0, { resolve: () => resolve(), reject });
  });
  worker.on('message', (reply: Reply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.value);
    else {
      const { code, message } = reply.error;
      p.reject(code !== undefined && isErrorCode(code) ? new ParleyError(code, message) : new Error(message));
    }
  });
  const failAll = (err: Error) => {
    failed = err;
    for (const p of pending.values())
      p.reject(new ParleyError('unavailable', `store thread stopped: ${err.message}`));
    pending.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`store thread exited with ${code}`)));
  await ready;

  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (failed)
      return Promise.reject(new ParleyError('unavailable', `store thread stopped: ${failed.message}`));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, method, args });
    });
  };
  const capabilities: StoreCapabilities = { multiWriter: false };
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await call('close', []).catch(() => undefined);
      worker.removeAllListeners('exit');
      await worker.terminate();
    })());
  // Every Store method is forwarded as is: the interface is asynchronous and its arguments
  // and results are plain data, so they cross the thread by structured clone.
  return new Proxy({} as Store, {
    get(_target, prop) {
      if (prop === 'capabilities') return capabilities;
      if (prop === 'close') return close;
      if (prop === 'then' || typeof prop !== 'string') return undefined;
      return (...args: unknown[]) => call(prop, args);
    },
  });
}
