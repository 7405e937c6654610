/**
 * The store adapters the conformance suite loops over (one suite for every adapter,
 * selected by PARLEY_STORES, e.g. PARLEY_STORES=sqlite). Each entry opens a fresh,
 * empty store and removes it afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach } from 'vitest';
import { PostgresStore, SqliteStore, openThreadedSqliteStore } from '@parley/server';
import type { Store } from '@parley/server';
import { createTestDatabase, pgAvailable } from './services.js';

export interface StoreAdapter {
  name: string;
  /** The adapter's `capabilities.multiWriter`, known without opening it (selects the concurrency tests). */
  multiWriter: boolean;
  /** Why the adapter cannot run here (services missing), or null. */
  unavailable(): Promise<string | null>;
  open(): Promise<{
    store: Store;
    /**
     * Another store over the same data, opened as a second server process would (its own
     * pool); only for adapters with `capabilities.multiWriter`. `cleanup` closes peers too.
     */
    openPeer?(): Promise<Store>;
    cleanup(): Promise<void>;
  }>;
}

/**
 * A migrated database the PostgreSQL adapters copy each test's databases from: a copy takes
 * about 0.2 s where migrating a new database took about 0.8 s, for every test of every
 * conformance file. Made on first use, dropped after each describe block (`storePerTest`;
 * a file that opens adapters itself calls `dropTemplate` after its tests).
 */
let template: ReturnType<typeof createTestDatabase> | null = null;

async function migratedDatabase(): ReturnType<typeof createTestDatabase> {
  template ??= (async () => {
    const db = await createTestDatabase();
    await (await PostgresStore.open({ url: db.url })).close();
    return db;
  })();
  return createTestDatabase((await template).name);
}

/** Drop the migrated template, if one was made: after the tests that opened adapters. */
export async function dropTemplate(): Promise<void> {
  const t = template;
  template = null;
  await (await t?.catch(() => null))?.drop();
}

export const STORE_ADAPTERS: StoreAdapter[] = [
  {
    name: 'sqlite',
    multiWriter: false,
    unavailable: async () => null,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
      const store = new SqliteStore({ path: join(dir, 'parley.db') });
      return {
        store,
        async cleanup() {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    // The same SQLite store on its own thread, as `parley serve` runs it.
    name: 'sqlite-threaded',
    multiWriter: false,
    unavailable: async () => null,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
      const store = await openThreadedSqliteStore({ path: join(dir, 'parley.db') });
      return {
        store,
        async cleanup() {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    multiWriter: true,
    unavailable: pgAvailable,
    async open() {
      const db = await migratedDatabase();
      const store = await PostgresStore.open({ url: db.url });
      const peers: Store[] = [];
      return {
        store,
        async openPeer() {
          const peer = await PostgresStore.open({ url: db.url });
          peers.push(peer);
          return peer;
        },
        async cleanup() {
          await Promise.all([store, ...peers].map((s) => s.close()));
          await db.drop();
        },
      };
    },
  },
  {
    // Two databases: logical shards 0-31 on the first, 32-63 on the second.
    name: 'postgres-2-shards',
    multiWriter: true,
    unavailable: pgAvailable,
    async open() {
      const dbs = [await migratedDatabase(), await migratedDatabase()];
      const url = dbs.map((d) => d.url);
      const store = await PostgresStore.open({ url });
      const peers: Store[] = [];
      return {
        store,
        async openPeer() {
          const peer = await PostgresStore.open({ url });
          peers.push(peer);
          return peer;
        },
        async cleanup() {
          await Promise.all([store, ...peers].map((s) => s.close()));
          await Promise.all(dbs.map((d) => d.drop()));
        },
      };
    },
  },
];

export function selectedAdapters(): StoreAdapter[] {
  const want = process.env.PARLEY_STORES?.split(',').map((s) => s.trim());
  return want ? STORE_ADAPTERS.filter((a) => want.includes(a.name)) : STORE_ADAPTERS;
}

/**
 * A fresh store of `adapter` for each test of a describe block, removed after it; `env.store`
 * is the current one. An adapter whose service is missing skips the tests, and fails them
 * when PARLEY_REQUIRE_SERVICES is set (CI).
 */
export function storePerTest(adapter: StoreAdapter): { store: Store } {
  const env = {} as { store: Store };
  let cleanup: (() => Promise<void>) | null = null;
  beforeEach(async (ctx) => {
    const skip = await adapter.unavailable();
    if (skip) {
      if (process.env.PARLEY_REQUIRE_SERVICES) throw new Error(`${adapter.name}: ${skip}`);
      console.warn(`skipped: ${adapter.name}: ${skip}`);
      ctx.skip();
      return;
    }
    const opened = await adapter.open();
    env.store = opened.store;
    cleanup = opened.cleanup;
  });
  afterEach(async () => {
    await cleanup?.();
    cleanup = null;
  });
  afterAll(dropTemplate);
  return env;
}

let made = 0;

/** A new account in `store`, with a name no other test uses. */
export async function newStoreUser(store: Store) {
  const name = `u${Date.now().toString(36)}${(made++).toString(36)}`;
  const u = { id: `u_${name}`, username: name, displayName: name, passwordHash: 'h', createdAt: Date.now() };
  await store.accounts.createUser(u);
  return u;
}
