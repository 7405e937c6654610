/** Sends waiting for their `ack`: kept in order, optionally persisted, settled once. */
import type { Ack, AttachmentRef, MessageAction } from '@parley/protocol';

/** A message the server has not acknowledged yet. */
export interface PendingSend {
  /** Idempotency key: resending it never stores a second message. */
  clientId: string;
  conversationId: string;
  text: string;
  /** When `send()` was called, in ms since the epoch. */
  createdAt: number;
  /** A reply: the seq it answers. */
  replyTo?: number;
  /** Uploads attached to the message (`text` is then a caption, maybe empty). */
  attachments?: AttachmentRef[];
  /** Attach the server's preview of the text's first URL. */
  preview?: boolean;
  /** An action on a message instead of a send (`text` is then ''). */
  action?: MessageAction;
}

/**
 * Optional persistence of the outbox (e.g. IndexedDB in a browser), so that sends made
 * offline survive a reload. Calls are made one at a time, in order. Failures are ignored:
 * the server's clientId idempotency makes a stale entry harmless (it is acked as duplicate).
 */
export interface OutboxStorage {
  /** Every stored entry, oldest first. Called once, before the first connection. */
  load(): Promise<PendingSend[]>;
  /** Store a new entry. */
  put(send: PendingSend): Promise<void> | void;
  /** Forget an entry (acked, or rejected by the server). */
  delete(clientId: string): Promise<void> | void;
}

interface Waiter {
  resolve: (ack: Ack) => void;
  reject: (err: Error) => void;
}

/** One outbox entry with the promises waiting on it and its resend state. */
export interface OutboxEntry {
  readonly send: PendingSend;
  readonly waiters: Waiter[];
  /** Retryable errors received so far (the resend backoff attempt). */
  retries: number;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
}

export class Outbox {
  // A Map iterates in insertion order: the order resends must keep.
  #entries = new Map<string, OutboxEntry>();
  #storage: OutboxStorage | undefined;
  #storageQueue: Promise<unknown> = Promise.resolve();
  #loaded: Promise<void> | undefined;
  #onChange: (pending: number) => void;

  constructor(storage: OutboxStorage | undefined, onChange: (pending: number) => void) {
    this.#storage = storage;
    this.#onChange = onChange;
  }

  get size(): number {
    return this.#entries.size;
  }

  entries(): IterableIterator<OutboxEntry> {
    return this.#entries.values();
  }

  get(clientId: string): OutboxEntry | undefined {
    return this.#entries.get(clientId);
  }

  /** Load stored entries once; they go before entries added since, as they are older. */
  load(): Promise<void> {
    const storage = this.#storage;
    if (storage === undefined) return Promise.resolve();
    this.#loaded ??= this.#persist(() => storage.load()).then((stored) => {
      if (!Array.isArray(stored) || stored.length === 0) return;
      const merged = new Map<string, OutboxEntry>();
      for (const send of stored) {
        if (!this.#entries.has(send.clientId) && !merged.has(send.clientId)) {
          merged.set(send.clientId, { send, waiters: [], retries: 0, retryTimer: undefined });
        }
      }
      if (merged.size === 0) return;
      for (const [clientId, entry] of this.#entries) merged.set(clientId, entry);
      this.#entries = merged;
      this.#onChange(this.#entries.size);
    });
    return this.#loaded;
  }

  /** Add a new entry and return the promise settled by its ack or final error. */
  add(send: PendingSend): Promise<Ack> {
    const entry: OutboxEntry = { send, waiters: [], retries: 0, retryTimer: undefined };
    this.#entries.set(send.clientId, entry);
    const storage = this.#storage;
    if (storage !== undefined) void this.#persist(() => storage.put(send));
    this.#onChange(this.#entries.size);
    return this.wait(entry);
  }

  /** Another promise on an existing entry (the same clientId sent again). */
  wait(entry: OutboxEntry): Promise<Ack> {
    return new Promise<Ack>((resolve, reject) => entry.waiters.push({ resolve, reject }));
  }

  /** Settle the entry with its ack. Returns false when no entry had that clientId. */
  resolve(ack: Ack): boolean {
    const entry = this.#remove(ack.clientId);
    if (entry === undefined) return false;
    for (const w of entry.waiters) w.resolve(ack);
    return true;
  }

  /** Remove the entry and reject its promises. Returns false when there was none. */
  reject(clientId: string, err: Error): boolean {
    const entry = this.#remove(clientId);
    if (entry === undefined) return false;
    for (const w of entry.waiters) w.reject(err);
    return true;
  }

  /** Reject and remove every entry (close with `rejectPending`). */
  rejectAll(err: Error): void {
    for (const clientId of [...this.#entries.keys()]) this.reject(clientId, err);
  }

  /** Stop every scheduled resend (the client closes; flush resends on the next connect). */
  clearRetryTimers(): void {
    for (const entry of this.#entries.values()) {
      clearTimeout(entry.retryTimer);
      entry.retryTimer = undefined;
    }
  }

  #remove(clientId: string): OutboxEntry | undefined {
    const entry = this.#entries.get(clientId);
    if (entry === undefined) return undefined;
    clearTimeout(entry.retryTimer);
    this.#entries.delete(clientId);
    const storage = this.#storage;
    if (storage !== undefined) void this.#persist(() => storage.delete(clientId));
    this.#onChange(this.#entries.size);
    return entry;
  }

  // Storage calls run one at a time so that a delete never overtakes the put before it.
  #persist<T>(op: () => Promise<T> | T): Promise<T | undefined> {
    const run = this.#storageQueue.then(op).catch(() => undefined);
    this.#storageQueue = run;
    return run;
  }
}
