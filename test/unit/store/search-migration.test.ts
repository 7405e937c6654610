/**
 * The search migration indexes the messages stored before it (the embedded store's FTS table
 * is filled from JavaScript's tokens, as the append does).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '@parley/server';
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
    const before = SQLITE_MIGRATIONS.length - 1;
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
