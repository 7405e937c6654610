/**
 * The embedded store's schema migrations on data written by an earlier version: migration 4
 * turns the per-member `feed` rows into fan-out on read, and every user's feed must read the
 * same afterwards (members who joined late, left, or left and came back included).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '@parley/server';
import { SQLITE_MIGRATIONS } from '@parley/server/dist/store/sqlite/migrations.js';
import { headOf, at } from '../../helpers/feed-positions.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A database as version 3 of the schema left it, with its `feed` rows. */
function versionThree(path: string) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  for (const m of SQLITE_MIGRATIONS.slice(0, 3)) db.exec(m as string);
  db.pragma('user_version = 3');
  const now = Date.now();
  for (const u of ['ua', 'ub', 'uc', 'ud']) {
    db.prepare(
      'INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)',
    ).run(u, u, u, 'h', now);
  }
  const conv = db.prepare(
    `INSERT INTO conversations (id, kind, name, direct_key, created_at, last_activity_at, last_seq)
     VALUES (?, ?, '', ?, ?, ?, 0)`,
  );
  conv.run('d1', 'direct', 'ua:ub', now, now);
  conv.run('g1', 'group', null, now, now);
  const member = db.prepare(
    'INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq) VALUES (?, ?, ?, ?, 0)',
  );
  const seqs = new Map<string, number>();
  // Version 3's append: the next seq, one feed row per member at the time.
  const append = (conversationId: string, sender: string, feedOf: string[]) => {
    const seq = (seqs.get(conversationId) ?? 0) + 1;
    seqs.set(conversationId, seq);
    const pos = Number(
      db
        .prepare(
          `INSERT INTO messages (conversation_id, seq, id, sender_id, client_id, text, created_at)
           VALUES (?, ?, ?, ?, ?, 'hi', ?)`,
        )
        .run(conversationId, seq, `m${conversationId}${seq}`, sender, `${conversationId}-${seq}`, now)
        .lastInsertRowid,
    );
    for (const u of feedOf) db.prepare('INSERT INTO feed (user_id, pos) VALUES (?, ?)').run(u, pos);
    db.prepare('UPDATE conversations SET last_seq = ? WHERE id = ?').run(seq, conversationId);
  };
  member.run('d1', 'ua', 'member', now);
  member.run('d1', 'ub', 'member', now);
  for (const u of ['ua', 'ub', 'ud']) member.run('g1', u, u === 'ua' ? 'admin' : 'member', now);
  append('g1', 'ua', ['ua', 'ub', 'ud']); // g1#1
  append('d1', 'ua', ['ua', 'ub']);
  append('g1', 'ud', ['ua', 'ub', 'ud']); // g1#2
  member.run('g1', 'uc', 'member', now); // uc joins
  db.prepare("DELETE FROM members WHERE conversation_id = 'g1' AND user_id IN ('ub', 'ud')").run(); // both leave
  append('g1', 'ua', ['ua', 'uc']); // g1#3
  append('d1', 'ub', ['ua', 'ub']);
  member.run('g1', 'ub', 'member', now); // ub is back
  append('g1', 'uc', ['ua', 'ub', 'uc']); // g1#4
  append('g1', 'ub', ['ua', 'ub', 'uc']); // g1#5
  db.prepare("DELETE FROM members WHERE conversation_id = 'g1' AND user_id = 'uc'").run();
  db.prepare(
    "INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq) VALUES ('g1', 'uc', 'member', ?, 5)",
  ).run(now); // uc left and came back after g1#5
  append('d1', 'ua', ['ua', 'ub']);
  const feeds = new Map<string, number[]>();
  for (const u of ['ua', 'ub', 'uc', 'ud']) {
    feeds.set(
      u,
      db.prepare('SELECT pos FROM feed WHERE user_id = ? ORDER BY pos').pluck().all(u) as number[],
    );
  }
  db.close();
  return feeds;
}

describe('sqlite migrations', () => {
  it('keeps every user feed through the move to fan-out on read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-migrate-'));
    dirs.push(dir);
    const path = join(dir, 'parley.db');
    const before = versionThree(path);
    expect(before.get('ud')).toHaveLength(2);

    const store = new SqliteStore({ path });
    for (const [u, positions] of before) {
      const feed = await store.messages.readFeed(u, at(0), 100);
      expect(
        feed.messages.map((m) => m.pos),
        u,
      ).toEqual(positions);
      expect(headOf(await store.messages.feedHead(u)), u).toBe(positions.at(-1) ?? 0);
      // From every point of the feed, the rest of it.
      for (const [i, p] of positions.entries()) {
        expect((await store.messages.readFeed(u, at(p), 100)).messages.map((m) => m.pos)).toEqual(
          positions.slice(i + 1),
        );
      }
    }
    expect(await store.conversations.getConversation('g1')).toMatchObject({ lastSeq: 5 });

    // New messages reach the current members only, after the old ones.
    const [r] = await store.messages.appendMessages([
      {
        id: 'mnew',
        conversationId: 'g1',
        senderId: 'ua',
        clientId: 'new',
        text: 'hi',
        createdAt: Date.now(),
      },
    ]);
    if (!r?.ok) throw new Error('append failed');
    expect(r.message.seq).toBe(6);
    expect([...r.recipients].sort()).toEqual(['ua', 'ub', 'uc']);
    expect(r.prev[r.recipients.indexOf('uc')]).toBe(before.get('uc')?.at(-1));
    for (const u of ['ua', 'ub', 'uc']) {
      expect((await store.messages.readFeed(u, at(0), 100)).messages.map((m) => m.pos)).toEqual([
        ...(before.get(u) ?? []),
        r.message.pos,
      ]);
    }
    expect((await store.messages.readFeed('ud', at(0), 100)).messages.map((m) => m.pos)).toEqual(
      before.get('ud'),
    );
    await store.close();
  });
});
