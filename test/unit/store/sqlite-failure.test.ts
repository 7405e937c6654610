/**
 * The threaded embedded store fails for good when one of its threads dies: every later call
 * answers `storage_failed` (not retryable) and `failure` says why, so health checks fail
 * instead of answering 200 while nothing works.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openThreadedSqliteStore } from '@parley/server';
import type { Store } from '@parley/server';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('threaded sqlite store failure', () => {
  it('a store thread that dies fails every later call with storage_failed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-fail-'));
    dirs.push(dir);
    const store = await openThreadedSqliteStore({ path: join(dir, 'parley.db'), quickCheck: true });
    stores.push(store);
    await store.ping();
    expect(store.failure).toBeUndefined();

    // Calling an aggregate's class as a plain function throws inside the store thread's message
    // handler, outside any promise: the thread dies, as it would on any uncaught error.
    const kill = Reflect.get(store.accounts, 'constructor') as () => Promise<unknown>;
    await expect(kill()).rejects.toMatchObject({ code: 'storage_failed', retryable: false });

    expect(store.failure?.message).toMatch(/parley-store thread stopped/);
    await expect(store.ping()).rejects.toMatchObject({ code: 'storage_failed' });
    // Reads on the other threads stop too: a store that lost its writer serves nothing.
    await expect(store.accounts.getUserByUsername('nobody')).rejects.toMatchObject({
      code: 'storage_failed',
    });
  });
});
