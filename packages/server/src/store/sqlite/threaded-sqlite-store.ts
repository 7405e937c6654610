import { Worker } from 'node:worker_threads';
import { ParleyError, isErrorCode } from '@parley/protocol';
import type { Logger } from '../../logger.js';
import type { AppendResult, FlatStore, NewMessage, Store, StoreCapabilities } from '../store.js';
import { wellFormed } from '../rows.js';
import { packBatch, unpackResults } from './append-codec.js';
import { SqliteStore, isCorruption } from './sqlite-store.js';
import type { SqliteStoreOptions } from './sqlite-store.js';

type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { code?: string; message: string; sqlite?: string } };

/** What every call answers once the store failed for good: retrying cannot help. */
const failed = (why: Error) => new ParleyError('storage_failed', `The store failed: ${why.message}`);

/** `Store`'s aggregate ports: here each one is the proxy itself, which forwards by method name. */
const AGGREGATES: ReadonlySet<string> = new Set([
  'accounts',
  'conversations',
  'messages',
  'social',
  'push',
  'values',
] satisfies (keyof Store)[]);

/**
 * Pure reads served by the reader thread's own connection, so that they do not queue behind
 * the commits on the store thread. WAL gives that connection a snapshot that includes every
 * transaction committed before the read started; a read is posted only after the caller saw
 * the results of the writes it awaited (the store thread replies after COMMIT returns), so a
 * read sees every write that completed before it was issued. Writes still in flight when a
 * read is issued may or may not be seen, as with any concurrent caller.
 */
export const READER_METHODS: ReadonlySet<string> = new Set([
  'history',
  'historyJson',
  'readFeed',
  'readFeeds',
  'feedHead',
  'feedHeads',
  'getDevicesByTokenHashes',
  'getUserById',
  'getUserByUsername',
  'getUsersByIds',
  'getPrivacy',
  'getPrivacies',
  'listDevices',
  'getConversation',
  'findDirect',
  'createdSince',
  'declinedAt',
  'getMember',
  'listMembers',
  'listConversations',
  'getConversationSummary',
  'presenceAudiences',
  'acceptedContacts',
  'visibleTo',
  'listContacts',
  'getContactState',
  'isBlockedEither',
  'blockedAmong',
  'listBlocked',
  'listPushSubscriptions',
  'pushTargets',
]);

/**
 * History pages, read on the calling (main) thread from a read-only connection of its own.
 * A page is an index range of at most a few hundred rows, usually cached: a fraction of a
 * millisecond of work, where a trip to the reader thread and back costs two thread wake-ups
 * that each wait for a core on a busy machine. Measured with `npm run bench -- --scenario
 * history` (dm at 5,000 msgs/s, three alternating pairs): page p99 8.4 / 9.3 / 6.6 ms on the
 * reader thread, 3.8 / 4.7 / 4.9 ms here, and the server used less CPU. Connection setup reads
 * (token, feed head, presence audience) stay on the reader thread: batched per turn they run
 * beside the event loop, and inline they cost connects/s (docs/performance.md).
 */
export const INLINE_METHODS: ReadonlySet<string> = new Set(['history', 'historyJson']);

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
   * History pages on the calling thread (INLINE_METHODS). Default true; false sends them to
   * the reader thread like the other reads.
   */
  inlinePages?: boolean;
  /** An inline page slower than this (ms) sends the pages of the next `inlineCooldownMs` to the reader thread. Default 4. */
  inlineSlowMs?: number;
  /** Default 1000 ms. */
  inlineCooldownMs?: number;
  /** Told once when the store fails for good (a damaged file, a store thread that died). */
  log?: Logger;
}

interface Thread {
  call(method: string, args: unknown[]): Promise<unknown>;
  stop(): Promise<void>;
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
  const call = (method: string, args: unknown[]): Promise<unknown> => {
    // A terminated thread would never answer.
    if (stopped) return Promise.reject(new ParleyError('unavailable', 'The store is closed'));
    if (dead || failure.error) return Promise.reject(failed(failure.error ?? (dead as Error)));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, method, args });
    });
  };
  const stop = async () => {
    await call('close', []).catch(() => undefined);
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
 * - the reader thread has a read-only connection and serves READER_METHODS (feed catch-up,
 *   token lookups, presence audiences), so that they need not wait for the commits queued
 *   before them;
 * - history pages are read on the calling thread from a read-only connection of its own
 *   (INLINE_METHODS), or on the reader thread for a second after one was slow (InlineGuard);
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
  let reader: Thread;
  let checkpointer: Thread;
  let inline: SqliteStore | undefined;
  try {
    reader = await startThread({ ...opts, role: 'reader' }, 'parley-store-reader', failure);
    try {
      checkpointer = await startThread(
        { ...opts, role: 'checkpointer' },
        'parley-store-checkpointer',
        failure,
      );
    } catch (err) {
      await reader.stop();
      throw err;
    }
    try {
      if (tuning.inlinePages !== false) inline = new SqliteStore({ ...opts, role: 'reader' });
    } catch (err) {
      await Promise.all([reader.stop(), checkpointer.stop()]);
      throw err;
    }
  } catch (err) {
    await writer.stop();
    throw err;
  }
  // History pages: on this thread while the guard allows, else on the reader thread.
  const inlineCalls = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  if (inline) {
    const local = inline as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const guard = new InlineGuard(tuning.inlineSlowMs ?? 4, tuning.inlineCooldownMs ?? 1000);
    for (const name of INLINE_METHODS) {
      const method = local[name] as (...a: unknown[]) => Promise<unknown>;
      inlineCalls.set(name, (...args) => {
        if (failure.error) return Promise.reject(failed(failure.error));
        if (!guard.inline) return reader.call(name, args);
        const t0 = performance.now();
        // SqliteStore's reads are synchronous inside: the work is done when the call returns.
        const result = method.apply(local, args);
        guard.took(performance.now() - t0);
        return result.catch((err: unknown) => {
          if (!isCorruption(err)) throw err;
          failure.set(err as Error);
          throw failed(err as Error);
        });
      });
    }
  }

  let busy = false;
  let lastFinish = 0;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const r = (await checkpointer.call('walCheckpoint', [])) as { log: number; checkpointed: number };
      if (r.log >= finishFrames && Date.now() - lastFinish >= 4 * everyMs) {
        // Catch up with what was committed during the first pass, then let the store thread
        // copy the remainder (a few frames) between two of its transactions.
        await checkpointer.call('walCheckpoint', []);
        await writer.call('walCheckpoint', []);
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
      await Promise.all([reader.stop(), checkpointer.stop()]);
      await writer.stop();
    })());
  const appendMessages = async (given: readonly NewMessage[]): Promise<AppendResult[]> => {
    // The answers are rebuilt from this side's batch: what the store thread keeps.
    const batch = given.map(wellFormed);
    return unpackResults(batch, (await writer.call('appendPacked', [packBatch(batch)])) as unknown[]);
  };
  // Every other method of the ports is forwarded as is: the interface is asynchronous and its
  // arguments and results are plain data, so they cross the thread by structured clone.
  const store: FlatStore = new Proxy({} as FlatStore, {
    get(_target, prop) {
      if (prop === 'capabilities') return capabilities;
      if (typeof prop === 'string' && AGGREGATES.has(prop)) return store;
      if (prop === 'failure') return failure.error;
      if (prop === 'close') return close;
      if (prop === 'appendMessages') return appendMessages;
      if (prop === 'then' || typeof prop !== 'string') return undefined;
      const inlineCall = inlineCalls.get(prop);
      if (inlineCall) return inlineCall;
      const thread = READER_METHODS.has(prop) ? reader : writer;
      return (...args: unknown[]) => thread.call(prop, args);
    },
  });
  return store;
}
