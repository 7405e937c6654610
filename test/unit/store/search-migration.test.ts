/**
 * The search migrations index the messages stored before them, with JavaScript's tokens as
 * the append makes them: SQLite's FTS table, PostgreSQL's tsvector column.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStore, SqliteStore } from '@parley/server';
import { createTestDatabase, pgAvailable } from '../../helpers/services.js';
import { SQLITE_MIGRATIONS } from '@parley/server/dist/store/sqlite/migrations.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('search migration, embedded store', () => {
  it('indexes the messages stored before it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-search-'));
    dirs.push(dir);
    const path = join(dir, 'parley.db');
    // Every migration before the search's (a function, named after what it does).
    const before = SQLITE_MIGRATIONS.findIndex((m) => typeof m === 'function' && m.name === 'messageSearch');
    expect(before).toBeGreaterThan(0);
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    for (const m of SQLITE_MIGRATIONS.slice(0, before)) {
      if (typeof m === 'string') db.exec(m);
      else m(db);
    }
    db.pragma(`user_version = ${before}`);
    const now = Date.now();
    db.exec(`INSERT INTO conversations (id, kind, name, direct_key, created_at, last_activity_at, last_seq, last_pos)
             VALUES ('d1', 'direct', '', 'ua:ub', ${now}, ${now}, 2, 2)`);
    db.exec(`INSERT INTO members (conversation_id, user_id, role, joined_at, joined_pos)
             VALUES ('d1', 'ua', 'member', ${now}, 0), ('d1', 'ub', 'member', ${now}, 0)`);
    const insert = db.prepare(
      `INSERT INTO messages (conversation_id, seq, id, sender_id, client_id, text, created_at)
       VALUES ('d1', ?, ?, 'ua', ?, ?, ${now})`,
    );
    insert.run(1, 'm1', 'k1', 'Rendez-vous au Café');
    insert.run(2, 'm2', 'k2', '明天去北京');
    db.close();

    const store = new SqliteStore({ path });
    try {
      const page = { offset: 0, limit: 10, asOf: now };
      const cafe = await store.search.search('ub', { text: 'cafe' }, page);
      expect(cafe.hits.map((h) => [h.message.seq, h.highlights])).toEqual([[1, [[15, 19]]]]);
      const beijing = await store.search.search('ub', { text: '北京' }, page);
      expect(beijing.hits.map((h) => h.message.seq)).toEqual([2]);
    } finally {
      await store.close();
    }
  });
});

describe('search migration, PostgreSQL', () => {
  it('indexes the messages stored before it', async (ctx) => {
    const skip = await pgAvailable();
    if (skip) {
      if (process.env.PARLEY_REQUIRE_SERVICES) throw new Error(skip);
      ctx.skip();
      return;
    }
    const db = await createTestDatabase();
    try {
      const now = Date.now();
      let store = await PostgresStore.open({ url: db.url });
      try {
        for (const id of ['ua', 'ub'])
          await store.accounts.createUser({
            id,
            username: id,
            displayName: id,
            passwordHash: 'h',
            createdAt: now,
          });
        const c = await store.conversations.getOrCreateDirect('c1', 'ua', 'ub', now);
        await store.messages.appendMessages(
          ['Rendez-vous au Café', '明天去北京'].map((text, i) => ({
            id: `m${i}`,
            conversationId: c.id,
            senderId: 'ua',
            clientId: `k${i}`,
            text,
            createdAt: now,
          })),
        );
      } finally {
        await store.close();
      }
      // Back to schema 13: no search column, and migration 14 not run.
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        await client.query('ALTER TABLE messages DROP COLUMN search');
        await client.query('DELETE FROM schema_migrations WHERE version = 14');
      } finally {
        await client.end();
      }
      store = await PostgresStore.open({ url: db.url });
      try {
        const page = { offset: 0, limit: 10, asOf: now };
        const cafe = await store.search.search('ub', { text: 'cafe' }, page);
        expect(cafe.hits.map((h) => [h.message.seq, h.highlights])).toEqual([[1, [[15, 19]]]]);
        const beijing = await store.search.search('ub', { text: '北京' }, page);
        expect(beijing.hits.map((h) => h.message.seq)).toEqual([2]);
      } finally {
        await store.close();
      }
    } finally {
      await db.drop();
    }
  });
});
