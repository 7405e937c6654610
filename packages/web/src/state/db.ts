/**
 * The local cache in IndexedDB, one database per user: recent conversations and messages
 * (so reopening shows them at once, then reconciles with the server), the sync cursor, the
 * SDK outbox (so messages written offline survive a reload) and unsent drafts.
 *
 * Writes are queued and committed in one transaction every few hundred ms, and at once
 * when the page is hidden, so a burst of catch-up messages costs one write.
 */
import type { Conversation, Message, OutboxStorage, PendingSend } from '@parley/client';
import { foldOps, key, wanted } from './cache-fold.js';
import type { CacheOp, Folded } from './cache-fold.js';

/** Messages kept per conversation; older ones are pruned (the server has them). */
export const CACHED_MESSAGES_PER_CONVERSATION = 200;
const PRUNE_ABOVE = 300;
const FLUSH_DELAY_MS = 250;
const VERSION = 2;

type Op =
  | { kind: 'putConversation'; conversation: Conversation }
  | { kind: 'deleteConversation'; id: string }
  | CacheOp
  | { kind: 'cursor'; cursor: string }
  | { kind: 'draft'; conversationId: string; text: string };

/**
 * Whether cursor `a` is taken to be behind `b`: both are a single feed position (every cursor
 * of a server with one position space, and the numbers older versions stored) and `a` is
 * lower. Cursors are opaque otherwise. Keeping either of two cursors is safe, since each is
 * written with the messages before it; keeping the one further on only saves bringing
 * messages again.
 */
function behind(a: string, b: string): boolean {
  const single = /^[0-9]{1,15}$/;
  return single.test(a) && single.test(b) && Number(a) < Number(b);
}

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
  });
}

function dbName(userId: string): string {
  return `parley-${userId}`;
}

/** Where a conversation's cached `top` is kept in `meta`. */
function spanKey(conversationId: string): string {
  return `top:${conversationId}`;
}

function messageRange(conversationId: string): IDBKeyRange {
  return IDBKeyRange.bound([conversationId, 0], [conversationId, Number.MAX_SAFE_INTEGER]);
}

interface StoredSend extends PendingSend {
  /** Insertion order: the outbox must resend in the order sends were made. */
  order: number;
}

/** The cache of one user. Every method swallows storage failures: the cache is an optimisation. */
export class LocalCache {
  #db: IDBDatabase | null;
  #queue: Op[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #order = Date.now() * 1000;

  private constructor(db: IDBDatabase | null) {
    this.#db = db;
  }

  /** Open (or create) the cache of `userId`; a cache that cannot open works as an empty one. */
  static async open(userId: string): Promise<LocalCache> {
    if (typeof indexedDB === 'undefined') return new LocalCache(null);
    try {
      const open = indexedDB.open(dbName(userId), VERSION);
      open.onupgradeneeded = (e) => {
        const db = open.result;
        if (e.oldVersion < 1) {
          db.createObjectStore('meta');
          db.createObjectStore('conversations', { keyPath: 'id' });
          db.createObjectStore('messages', { keyPath: ['conversationId', 'seq'] });
          db.createObjectStore('outbox', { keyPath: 'clientId' });
        }
        // Version 2: drafts, text by conversation id.
        if (e.oldVersion < 2) db.createObjectStore('drafts');
      };
      const db = await req(open);
      // Another tab deleting this database (log out) must not wait on us.
      db.onversionchange = () => db.close();
      return new LocalCache(db);
    } catch {
      return new LocalCache(null);
    }
  }

  /** Delete the cache of `userId` (log out). */
  static async destroy(userId: string): Promise<void> {
    if (typeof indexedDB === 'undefined') return;
    try {
      await req(indexedDB.deleteDatabase(dbName(userId)));
    } catch {
      // Nothing else to do: the next login of this user overwrites it.
    }
  }

  async conversations(): Promise<Conversation[]> {
    const db = this.#db;
    if (db === null) return [];
    try {
      return await req(db.transaction('conversations').objectStore('conversations').getAll());
    } catch {
      return [];
    }
  }

  /**
   * Cached content of a conversation, oldest first, complete up to `top` (events included);
   * null when nothing is cached.
   */
  async messages(conversationId: string): Promise<{ messages: Message[]; top: number } | null> {
    const db = this.#db;
    if (db === null) return null;
    try {
      const tx = db.transaction(['meta', 'messages']);
      const [top, messages] = await Promise.all([
        req(tx.objectStore('meta').get(spanKey(conversationId))) as Promise<unknown>,
        req(tx.objectStore('messages').getAll(messageRange(conversationId))) as Promise<Message[]>,
      ]);
      if (typeof top !== 'number') return null;
      return { messages: messages.filter((m) => m.kind === 'text' && m.seq <= top), top };
    } catch {
      return null;
    }
  }

  /** The feed cursor to resume from (a number stored by an older version is a cursor too). */
  async cursor(): Promise<string | null> {
    const db = this.#db;
    if (db === null) return null;
    try {
      const v: unknown = await req(db.transaction('meta').objectStore('meta').get('cursor'));
      if (typeof v === 'number') return String(v);
      return typeof v === 'string' ? v : null;
    } catch {
      return null;
    }
  }

  /** Unsent drafts by conversation id. */
  async drafts(): Promise<Map<string, string>> {
    const db = this.#db;
    const drafts = new Map<string, string>();
    if (db === null) return drafts;
    try {
      const store = db.transaction('drafts').objectStore('drafts');
      const [keys, values] = await Promise.all([req(store.getAllKeys()), req(store.getAll())]);
      keys.forEach((key, i) => {
        const text: unknown = values[i];
        if (typeof key === 'string' && typeof text === 'string') drafts.set(key, text);
      });
    } catch {
      // No drafts, then.
    }
    return drafts;
  }

  /** Keep (or, when empty, forget) the draft of a conversation. */
  setDraft(conversationId: string, text: string): void {
    this.#enqueue({ kind: 'draft', conversationId, text });
  }

  putConversation(conversation: Conversation): void {
    this.#enqueue({ kind: 'putConversation', conversation });
  }
  deleteConversation(id: string): void {
    this.#enqueue({ kind: 'deleteConversation', id });
  }
  /** A message from the feed (content or event): extends or updates what is cached. */
  feed(message: Message): void {
    this.#enqueue({ kind: 'feed', message });
  }

  /** History content after content seq `after`, complete up to `top` (see `CacheOp`). */
  page(conversationId: string, after: number, messages: Message[], top: number): void {
    this.#enqueue({ kind: 'page', conversationId, after, messages, top });
  }

  /** Forget the cached messages of a conversation (its window starts over). */
  reset(conversationId: string): void {
    this.#enqueue({ kind: 'reset', conversationId });
  }
  /** Remember the feed cursor; written with the messages before it. */
  setCursor(cursor: string): void {
    this.#enqueue({ kind: 'cursor', cursor });
  }

  /** The SDK's outbox persistence (`ParleyClientOptions.outboxStorage`). */
  readonly outbox: OutboxStorage = {
    load: async () => {
      const db = this.#db;
      if (db === null) return [];
      const rows = (await req(db.transaction('outbox').objectStore('outbox').getAll())) as StoredSend[];
      rows.sort((a, b) => a.order - b.order);
      return rows.map(({ order: _order, ...send }) => send);
    },
    put: async (send) => {
      const db = this.#db;
      if (db === null) return;
      const tx = db.transaction('outbox', 'readwrite');
      const row: StoredSend = { ...send, order: this.#order++ };
      tx.objectStore('outbox').put(row);
      await done(tx);
    },
    delete: async (clientId) => {
      const db = this.#db;
      if (db === null) return;
      const tx = db.transaction('outbox', 'readwrite');
      tx.objectStore('outbox').delete(clientId);
      await done(tx);
    },
  };

  /** Commit queued writes now (the page is being hidden or closed). */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const ops = this.#queue;
    this.#queue = [];
    if (ops.length === 0) return this.#flushing;
    this.#flushing = this.#flushing.then(() => this.#write(ops)).catch(() => undefined);
    return this.#flushing;
  }

  close(): void {
    void this.flush().then(() => this.#db?.close());
  }

  #enqueue(op: Op): void {
    if (this.#db === null) return;
    this.#queue.push(op);
    this.#timer ??= setTimeout(() => void this.flush(), FLUSH_DELAY_MS);
  }

  async #write(ops: Op[]): Promise<void> {
    const db = this.#db;
    if (db === null) return;
    const folded = await this.#fold(db, ops);
    const tx = db.transaction(['meta', 'conversations', 'messages', 'drafts'], 'readwrite');
    const meta = tx.objectStore('meta');
    const drafts = tx.objectStore('drafts');
    const convs = tx.objectStore('conversations');
    const msgs = tx.objectStore('messages');
    const touched = new Set<string>();
    const gone = new Set<string>();
    let cursor: string | undefined;
    for (const op of ops) {
      switch (op.kind) {
        case 'putConversation':
          convs.put(op.conversation);
          break;
        case 'deleteConversation':
          convs.delete(op.id);
          msgs.delete(messageRange(op.id));
          meta.delete(spanKey(op.id));
          drafts.delete(op.id);
          touched.delete(op.id);
          gone.add(op.id);
          break;
        case 'draft':
          if (op.text === '') drafts.delete(op.conversationId);
          else drafts.put(op.text, op.conversationId);
          break;
        case 'feed':
        case 'page':
        case 'reset':
          break;
        case 'cursor':
          cursor = cursor === undefined || !behind(op.cursor, cursor) ? op.cursor : cursor;
          break;
        default: {
          const never: never = op;
          return never;
        }
      }
    }
    for (const id of folded.resets) msgs.delete(messageRange(id));
    for (const [k, m] of folded.messages) {
      if (gone.has(k.split('\u0000')[0] ?? '')) continue;
      if (m !== null) {
        msgs.put(m);
        touched.add(m.conversationId);
      } else {
        const [id, seq] = k.split('\u0000') as [string, string];
        msgs.delete([id, Number(seq)]);
      }
    }
    for (const [id, top] of folded.spans) {
      if (gone.has(id)) continue;
      if (top === null) meta.delete(spanKey(id));
      else meta.put(top, spanKey(id));
    }
    if (cursor !== undefined) {
      // Several tabs share this database: keep the furthest cursor any of them reached where
      // that can be told; otherwise the latest (an older one only brings messages again).
      const next = cursor;
      const get = meta.get('cursor');
      get.onsuccess = () => {
        const old: unknown = get.result;
        const stored = typeof old === 'number' ? String(old) : typeof old === 'string' ? old : null;
        if (stored === null || !behind(next, stored)) meta.put(next, 'cursor');
      };
    }
    for (const id of touched) {
      const count = msgs.count(messageRange(id));
      count.onsuccess = () => {
        const n = count.result;
        if (n <= PRUNE_ABOVE) return;
        const keys = msgs.getAllKeys(messageRange(id), n - CACHED_MESSAGES_PER_CONVERSATION);
        keys.onsuccess = () => {
          const last = keys.result[keys.result.length - 1] as [string, number] | undefined;
          if (last !== undefined) msgs.delete(IDBKeyRange.bound([id, 0], last));
        };
      };
    }
    await done(tx);
  }

  /** Read what the batch's feed messages touch, and fold the batch over it. */
  async #fold(db: IDBDatabase, ops: Op[]): Promise<Folded> {
    const cacheOps = ops.filter(
      (op): op is CacheOp => op.kind === 'feed' || op.kind === 'page' || op.kind === 'reset',
    );
    const spans = new Map<string, number>();
    const messages = new Map<string, Message>();
    const want = wanted(cacheOps);
    if (want.spans.size > 0) {
      const tx = db.transaction(['meta', 'messages']);
      const meta = tx.objectStore('meta');
      const msgs = tx.objectStore('messages');
      await Promise.all([
        ...[...want.spans].map(async (id) => {
          const top: unknown = await req(meta.get(spanKey(id)));
          if (typeof top === 'number') spans.set(id, top);
        }),
        ...want.messages.map(async ([id, seq]) => {
          const m = (await req(msgs.get([id, seq]))) as Message | undefined;
          if (m !== undefined) messages.set(key(id, seq), m);
        }),
      ]);
    }
    return foldOps(cacheOps, spans, messages);
  }
}
