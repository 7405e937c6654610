/**
 * The threaded embedded store reads history pages on the calling thread (its `inline` routes),
 * and sends them to the reader thread for a while after one was slow (InlineGuard). Either
 * way a page holds every message committed before it was asked for.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InlineGuard, openThreadedSqliteStore } from '@parley/server';
import type { ThreadedSqliteOptions } from '@parley/server';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('InlineGuard', () => {
  it('runs reads inline until one is slow, then not for the cooldown', () => {
    let t = 1000;
    const guard = new InlineGuard(4, 1000, () => t);
    expect(guard.inline).toBe(true);
    guard.took(3.9);
    expect(guard.inline).toBe(true);
    guard.took(4.1);
    expect(guard.inline).toBe(false);
    t += 999;
    expect(guard.inline).toBe(false);
    t += 1;
    expect(guard.inline).toBe(true);
  });
});

async function openSeeded(tuning: ThreadedSqliteOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-inline-'));
  dirs.push(dir);
  const store = await openThreadedSqliteStore({ path: join(dir, 'parley.db') }, tuning);
  const now = Date.now();
  for (const id of ['ua', 'ub', 'uc']) {
    await store.accounts.createUser({ id, username: id, displayName: id, passwordHash: 'h', createdAt: now });
  }
  await store.conversations.getOrCreateDirect('c_ab', 'ua', 'ub', now);
  return store;
}

describe.each([
  ['inline', { inlinePages: true }],
  ['inline, every read slow (reader thread after the first)', { inlinePages: true, inlineSlowMs: -1 }],
  ['reader thread', { inlinePages: false }],
] as [string, ThreadedSqliteOptions][])('history pages (%s)', (_name, tuning) => {
  it('see every completed append, page by page, and answer not-found to non-members', async () => {
    const store = await openSeeded(tuning);
    try {
      for (let round = 1; round <= 5; round++) {
        await store.messages.appendMessages(
          Array.from({ length: 30 }, (_, i) => {
            const n = (round - 1) * 30 + i + 1;
            return {
              id: `m${n}`,
              conversationId: 'c_ab',
              senderId: n % 2 ? 'ua' : 'ub',
              clientId: `k${n}`,
              text: `text ${n}`,
              createdAt: Date.now(),
            };
          }),
        );
        const json = await store.messages.historyJson('c_ab', 'ua', { limit: 50 });
        const page = JSON.parse(json as string) as {
          messages: { seq: number; text: string }[];
          hasMore: boolean;
        };
        expect(page.messages.map((m) => m.seq)).toEqual(
          Array.from({ length: Math.min(50, round * 30) }, (_, i) => Math.max(0, round * 30 - 50) + i + 1),
        );
        expect(page.messages.at(-1)?.text).toBe(`text ${round * 30}`);
        expect(page.hasMore).toBe(round * 30 > 50);
        const older = await store.messages.history('c_ab', { before: 21, limit: 20 });
        expect(older.messages.map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(older.hasMore).toBe(false);
      }
      expect(await store.messages.historyJson('c_ab', 'uc', { limit: 50 })).toBeNull();
    } finally {
      await store.close();
    }
  });
});
