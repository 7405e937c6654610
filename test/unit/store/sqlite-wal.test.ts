/**
 * The embedded store's WAL handling: the checkpointer thread and the store thread keep the
 * WAL short while messages keep coming, and nothing committed is lost across a restart.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore, openThreadedSqliteStore } from '@parley/server';
import type { Store } from '@parley/server';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function seed(store: Store) {
  const now = Date.now();
  for (const id of ['ua', 'ub']) {
    await store.accounts.createUser({ id, username: id, displayName: id, passwordHash: 'h', createdAt: now });
  }
  return store.conversations.getOrCreateDirect('c_ab', 'ua', 'ub', now);
}

const batch = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `m${from + i}`,
    conversationId: 'c_ab',
    senderId: (from + i) % 2 ? 'ua' : 'ub',
    clientId: `k${from + i}`,
    text: `text ${from + i} `.repeat(20),
    createdAt: Date.now(),
  }));

describe('sqlite WAL', () => {
  it('checkpoints while writing, keeps the WAL bounded and loses nothing across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-wal-'));
    dirs.push(dir);
    const path = join(dir, 'parley.db');
    const store = await openThreadedSqliteStore({ path }, { checkpointEveryMs: 10, finishFrames: 64 });
    await seed(store);
    let sent = 0;
    let maxWal = 0;
    for (let round = 0; round < 60; round++) {
      await store.messages.appendMessages(batch(sent + 1, 50));
      sent += 50;
      // Reads through the reader connection see every completed batch.
      expect((await store.messages.history('c_ab', { limit: 1 })).messages[0]?.seq).toBe(sent);
      maxWal = Math.max(maxWal, statSync(`${path}-wal`).size);
      await new Promise((r) => setTimeout(r, 5));
    }
    // 3,000 messages of ~250 bytes went through the WAL; the checkpoints started it over.
    expect(maxWal).toBeLessThan(64 * 1024 * 1024);
    await store.close();
    expect(existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0).toBe(0);

    // Reopen (threaded, then in-thread): every message, gap-free seqs, counters and cursors.
    const again = await openThreadedSqliteStore({ path });
    expect(await again.conversations.getConversation('c_ab')).toMatchObject({ lastSeq: sent });
    const [r] = await again.messages.appendMessages(batch(sent + 1, 1));
    expect(r).toMatchObject({ ok: true, message: { seq: sent + 1 } });
    sent += 1;
    await again.close();
    const plain = new SqliteStore({ path });
    let seq = 0;
    let before: number | undefined;
    for (;;) {
      const page = await plain.messages.history(
        'c_ab',
        before === undefined ? { limit: 500 } : { before, limit: 500 },
      );
      for (const m of page.messages.reverse()) expect(m.seq).toBe(sent - seq++);
      if (!page.hasMore) break;
      before = page.messages[page.messages.length - 1]?.seq;
    }
    expect(seq).toBe(sent);
    expect((await plain.conversations.getMember('c_ab', 'ua'))?.readSeq).toBe(sent);
    expect((await plain.conversations.getMember('c_ab', 'ub'))?.readSeq).toBe(sent - 1);
    await plain.close();
  });

  it('waits for a write lock another connection holds for a moment instead of failing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-wal-'));
    dirs.push(dir);
    const path = join(dir, 'parley.db');
    const store = await openThreadedSqliteStore({ path });
    await seed(store);
    await store.accounts.createUser({
      id: 'uc',
      username: 'uc',
      displayName: 'uc',
      passwordHash: 'h',
      createdAt: 1,
    });
    // Another connection holds the write lock, as the reader and checkpointer connections do
    // for a moment when they catch the WAL-index header mid-update.
    const Database = (await import('better-sqlite3')).default;
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    // Both read before they write: a deferred transaction would fail at once ("database is
    // locked") when it asks for the lock at its first write.
    const direct = store.conversations.getOrCreateDirect('c_ac', 'ua', 'uc', Date.now());
    const appended = store.messages.appendMessages(batch(1, 3));
    await new Promise((r) => setTimeout(r, 300));
    other.exec('COMMIT');
    other.close();
    expect(await direct).toMatchObject({ id: 'c_ac', kind: 'direct' });
    expect((await appended).map((r) => r.ok && r.message.seq)).toEqual([1, 2, 3]);
    await store.close();
  });

  it('keeps the page size of an existing database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-wal-'));
    dirs.push(dir);
    const path = join(dir, 'parley.db');
    const Database = (await import('better-sqlite3')).default;
    const old = new Database(path);
    old.pragma('page_size = 8192');
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE t (x)');
    old.close();
    const store = new SqliteStore({ path });
    await store.close();
    const check = new Database(path, { readonly: true });
    expect(check.pragma('page_size', { simple: true })).toBe(8192);
    check.close();
  });
});
