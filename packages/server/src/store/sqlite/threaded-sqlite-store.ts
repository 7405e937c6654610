import { Worker } from 'node:worker_threads';
import { ParleyError, isErrorCode } from '@parley/protocol';
import type { Logger } from '../../logger.js';
import type { NewMessage, Store, StoreCapabilities } from '../store.js';
import { wellFormed } from '../common/append-batch.js';
import { packBatch, unpackResults } from './append-codec.js';
import { SqliteStore, isCorruption } from './sqlite-store.js';
import type { SqliteStoreOptions } from './sqlite-store.js';
import { ROUTES } from './thread-calls.js';
import type { Aggregate, Ports, Reply, Route, Target } from './thread-calls.js';

/** What every call answers once the store failed for good: retrying cannot help. */
const failed = (why: Error) => new ParleyError('storage_failed', `The store failed: ${why.message}`);

/**
 * Keeps slow inline reads off the event loop: after an inline read that took longer than
 * `slowMs` (pages not in any cache, a disk under load), the next `cooldownMs` of reads go to
 * the reader thread, so the event loop blocks for at most one slow read per cooldown.
 */
export class InlineGuard {
  private until = 0;

  constructor(
    private readonly slowMs: number,
    private readonly cooldownMs: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Run the next read inline? */
  get inline(): boolean {
    return this.clock() >= this.until;
  }

  /** An inline read took `ms`. */
  took(ms: number): void {
    if (ms > this.slowMs) this.until = this.clock() + this.cooldownMs;
  }
}

export interface ThreadedSqliteOptions {
  /** How often the checkpointer copies WAL frames into the database file (ms). Default 200. */
  checkpointEveryMs?: number;
  /** WAL frames after which the store thread is asked to finish a checkpoint. Default 16,384. */
  finishFrames?: number;
  /**
   * History pages on the calling thread (the `inline` routes). Default true; false sends them
   * to the reader thread like the other reads.
   */
  inlinePages?: boolean;
  /** An inline page slower than this (ms) sends the pages of the next `inlineCooldownMs` to the reader thread. Default 4. */
  inlineSlowMs?: number;
  /** Default 1000 ms. */
  inlineCooldownMs?: number;
  /** Told once when the store fails for good (a damaged file, a store thread that died). */
  log?: Logger;
}

type Method = (...args: unknown[]) => Promise<unknown>;

interface Thread {
  call(target: Target, args: unknown[]): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * A port whose methods are made by `method`, every routed one (ROUTES) at once. A name no
 * port declares goes to the store thread too, as a call it answers with an error.
 */
function portOf<A extends Aggregate>(aggregate: A, method: (name: string) => Method): Ports[A] {
  const methods = new Map<string, Method>();
  for (const name of Object.keys(ROUTES[aggregate])) methods.set(name, method(name));
  return new Proxy({} as Ports[A], {
    get(_target, prop) {
      if (prop === 'then' || typeof prop !== 'string') return undefined;
      return methods.get(prop) ?? method(prop);
    },
  });
}

/**
 * Once set, the store answers every call with `storage_failed`: a damaged file must take no
 * more writes, and a dead thread answers nothing.
 */
class Failure {
  error: Error | undefined;
  constructor(private readonly log: Logger | undefined) {}

  set(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.log?.fatal(
      { err },
      'the store failed: refusing every call; /healthz and /readyz answer 503. Restart; a damaged file must be restored from a backup',
    );
  }
}

async function startThread(opts: SqliteStoreOptions, name: string, failure: Failure): Promise<Thread> {
  const script = new URL('./sqlite-worker.js', import.meta.url);
  const worker = new Worker(script, { workerData: opts, name });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let dead: Error | null = null;
  // A thread that fails while opening fails the open; only one that dies later fails the store.
  let started = false;

  const ready = new Promise<void>((resolve, reject) => {
    pending.set(0, { resolve: () => resolve(), reject });
  });
  worker.on('message', (reply: Reply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.value);
    else {
      const { code, message, sqlite } = reply.error;
      if (isCorruption({ code: sqlite })) {
        failure.set(Object.assign(new Error(message), { code: sqlite }));
        p.reject(failed(failure.error as Error));
        return;
      }
      p.reject(code !== undefined && isErrorCode(code) ? new ParleyError(code, message) : new Error(message));
    }
  });
  const failAll = (err: Error) => {
    dead = err;
    if (started) failure.set(new Error(`${name} thread stopped: ${err.message}`));
    for (const p of pending.values()) p.reject(started ? failed(failure.error as Error) : err);
    pending.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`store thread exited with ${code}`)));
  try {
    await ready;
  } catch (err) {
    worker.removeAllListeners('exit');
    await worker.terminate();
    throw err;
  }
  started = true;

  let stopped = false;
  const call: Thread['call'] = (target, args) => {
    // A terminated thread would never answer.
    if (stopped) return Promise.reject(new ParleyError('unavailable', 'The store is closed'));
    if (dead || failure.error) return Promise.reject(failed(failure.error ?? (dead as Error)));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...target, id, args });
    });
  };
  const stop = async () => {
    await call({ method: 'close' }, []).catch(() => undefined);
    stopped = true;
    worker.removeAllListeners('exit');
    await worker.terminate();
  };
  return { call, stop };
}

/**
 * The embedded store on its own threads (the default for `parley serve`): the same
 * SqliteStore, running in workers, behind the same `Store` interface. better-sqlite3 is
 * synchronous, so on the main thread every commit would stall every socket; here the event
 * loop keeps serving while the workers work.
 *
 * - the store thread owns the writing connection and runs every call but the pure reads,
 *   answered in order; a ParleyError keeps its code across the thread;
 * - the reader thread has a read-only connection and serves the `reader` routes (feed
 *   catch-up, token lookups, presence audiences), so that they need not wait for the commits
 *   queued before them; the search thread, another, serves full-text searches;
 * - history pages are read on the calling thread from a read-only connection of its own
 *   (the `inline` routes), or on the reader thread for a second after one was slow (InlineGuard);
 * - the checkpointer thread copies the WAL into the database file every `checkpointEveryMs`
 *   (PASSIVE: it never blocks the others). When the WAL is long it asks
 *   the store thread to copy the few frames left, so that the WAL starts over (the store
 *   thread's own `wal_autocheckpoint` stays as the bound if the checkpointer ever fails).
 */
export async function openThreadedSqliteStore(
  opts: SqliteStoreOptions,
  tuning: ThreadedSqliteOptions = {},
): Promise<Store> {
  const everyMs = tuning.checkpointEveryMs ?? 200;
  const finishFrames = tuning.finishFrames ?? 16_384;
  const failure = new Failure(tuning.log);
  const writer = await startThread(
    { ...opts, role: 'writer', walAutocheckpoint: 65_536 },
    'parley-store',
    failure,
  );
  // Started one after another; a failure stops those already running.
  const started: Thread[] = [writer];
  const start = async (role: 'reader' | 'checkpointer', name: string): Promise<Thread> => {
    const t = await startThread({ ...opts, role }, name, failure);
    started.push(t);
    return t;
  };
  let reader: Thread;
  let searcher: Thread;
  let checkpointer: Thread;
  let inline: SqliteStore | undefined;
  try {
    reader = await start('reader', 'parley-store-reader');
    searcher = await start('reader', 'parley-store-search');
    checkpointer = await start('checkpointer', 'parley-store-checkpointer');
    if (tuning.inlinePages !== false) inline = new SqliteStore({ ...opts, role: 'reader' });
  } catch (err) {
    // The writer last: the others read its file.
    await Promise.all(started.slice(1).map((t) => t.stop()));
    await writer.stop();
    throw err;
  }
  const guard = new InlineGuard(tuning.inlineSlowMs ?? 4, tuning.inlineCooldownMs ?? 1000);
  /** A port method as the threads serve it: on the thread its route names. */
  const routed =
    <A extends Aggregate>(aggregate: A) =>
    (method: string): Method => {
      const routes: { readonly [name: string]: Route | undefined } = ROUTES[aggregate];
      // Own properties only: a name like `constructor` is no route.
      const route = (Object.hasOwn(routes, method) && routes[method]) || 'writer';
      const thread = route === 'writer' ? writer : route === 'search' ? searcher : reader;
      const remote = (...args: unknown[]) => thread.call({ aggregate, method }, args);
      const local = inline?.[aggregate] as Record<string, Method | undefined> | undefined;
      const own = local?.[method];
      if (route !== 'inline' || !own) return remote;
      // History pages: on this thread while the guard allows, else on the reader thread.
      return (...args: unknown[]) => {
        if (failure.error) return Promise.reject(failed(failure.error));
        if (!guard.inline) return remote(...args);
        const t0 = performance.now();
        // SqliteStore's reads are synchronous inside: the work is done when the call returns.
        const result = own.apply(local, args);
        guard.took(performance.now() - t0);
        return result.catch((err: unknown) => {
          if (!isCorruption(err)) throw err;
          failure.set(err as Error);
          throw failed(err as Error);
        });
      };
    };

  let busy = false;
  let lastFinish = 0;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const r = (await checkpointer.call({ method: 'walCheckpoint' }, [])) as {
        log: number;
        checkpointed: number;
      };
      if (r.log >= finishFrames && Date.now() - lastFinish >= 4 * everyMs) {
        // Catch up with what was committed during the first pass, then let the store thread
        // copy the remainder (a few frames) between two of its transactions.
        await checkpointer.call({ method: 'walCheckpoint' }, []);
        await writer.call({ method: 'walCheckpoint' }, []);
        lastFinish = Date.now();
      }
    } catch {
      // A stopped thread fails its calls; the store thread's autocheckpoint still bounds the WAL.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), everyMs);
  timer.unref();

  const capabilities: StoreCapabilities = {
    multiWriter: false,
    orderedAppends: true,
    positionSpaces: 1,
  };
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      clearInterval(timer);
      await inline?.close();
      await Promise.all([reader.stop(), searcher.stop(), checkpointer.stop()]);
      await writer.stop();
    })());
  const appendMessages: Method = async (...args) => {
    // The answers are rebuilt from this side's batch: what the store thread keeps.
    const batch = (args[0] as readonly NewMessage[]).map(wellFormed);
    return unpackResults(
      batch,
      (await writer.call({ method: 'appendPacked' }, [packBatch(batch)])) as unknown[],
    );
  };
  const routedMessages = routed('messages');
  return {
    capabilities,
    get failure() {
      return failure.error;
    },
    accounts: portOf('accounts', routed('accounts')),
    conversations: portOf('conversations', routed('conversations')),
    messages: portOf('messages', (name) =>
      name === 'appendMessages' ? appendMessages : routedMessages(name),
    ),
    search: portOf('search', routed('search')),
    social: portOf('social', routed('social')),
    push: portOf('push', routed('push')),
    values: portOf('values', routed('values')),
    uploads: portOf('uploads', routed('uploads')),
    ping: () => writer.call({ method: 'ping' }, []).then(() => undefined),
    close,
  };
}
