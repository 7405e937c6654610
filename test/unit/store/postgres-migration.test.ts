/**
 * Upgrading a PostgreSQL database written with feed rows (schema 9: one `feed` row per
 * member and message, appends under one global lock) to fan-out on read (schema 10): every
 * user's feed reads exactly as before, page by page and from every position, with the same
 * heads, including the parts of groups a member was removed from and rejoined; appends after
 * the upgrade continue above every old position.
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS, PostgresStore } from '@parley/server';
import type { Store } from '@parley/server';
import { createTestDatabase, pgAvailable } from '../../helpers/services.js';
import { headOf, at } from '../../helpers/feed-positions.js';

/** The advisory lock key schema 9's append took (any key works: nothing else runs here). */
const OLD_APPEND_LOCK = 0x7061726c02;

interface FeedEntry {
  conversationId: string;
  seq: number;
  pos: number;
}

describe('PostgreSQL upgrade from feed rows to fan-out on read', () => {
  let db: { url: string; drop(): Promise<void> } | undefined;
  let client: pg.Client | undefined;
  let store: Store | undefined;

  beforeEach(async (ctx) => {
    const skip = await pgAvailable();
    if (skip) {
      if (process.env.PARLEY_REQUIRE_SERVICES) throw new Error(skip);
      console.warn(`skipped: ${skip}`);
      ctx.skip();
      return;
    }
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  afterEach(async () => {
    await store?.close();
    await client?.end();
    await db?.drop();
    store = client = db = undefined;
  });

  it('reads every feed exactly as the feed rows did, and appends above them', async () => {
    const c = client as pg.Client;
    // Schema 9, as the previous release left it.
    await c.query(`CREATE TABLE schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    for (const m of POSTGRES_MIGRATIONS.filter((m) => m.version <= 9)) {
      await c.query(m.sql({ messagePartitions: 4 }));
      await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }

    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
    for (const u of users) {
      await c.query(
        `INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES ($1, $1, $1, 'h', 1)`,
        [u],
      );
    }
    async function conversation(id: string, kind: 'direct' | 'group', members: string[]) {
      await c.query(
        `INSERT INTO conversations (id, kind, name, direct_key, created_at, last_activity_at)
         VALUES ($1, $2, $1, $3, 1, 1)`,
        [id, kind, kind === 'direct' ? members.join(':') : null],
      );
      for (const u of members) await join(id, u);
    }
    async function join(id: string, u: string) {
      await c.query(
        `INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq)
         SELECT $1, $2, 'member', 1, last_seq FROM conversations WHERE id = $1`,
        [id, u],
      );
    }
    async function leave(id: string, u: string) {
      await c.query('DELETE FROM members WHERE conversation_id = $1 AND user_id = $2', [id, u]);
    }
    let k = 0;
    async function send(conv: string, sender: string, count = 1) {
      const batch = Array.from({ length: count }, (_, i) => ({
        conv,
        sender,
        client: `k${k++}`,
        mid: `m${k}`,
        txt: `text ${k}`,
        sent_at: 1000 + k,
        i: i + 1,
      }));
      const { rows } = await c.query<{ r: [number, string][] }>('SELECT r FROM parley_append_json($1, $2)', [
        OLD_APPEND_LOCK,
        JSON.stringify(batch),
      ]);
      for (const [, status] of rows[0]?.r ?? []) expect(status).toBe('fresh');
    }

    await conversation('d12', 'direct', ['u1', 'u2']);
    await conversation('g1', 'group', ['u1', 'u2', 'u3', 'u4']);
    await conversation('g2', 'group', ['u3', 'u4', 'u5', 'u6']);
    await send('d12', 'u1', 3);
    await send('g1', 'u1', 2);
    await send('g2', 'u3', 2);
    await leave('g1', 'u2'); // removed, then added again: two runs of g1 in u2's feed
    await send('g1', 'u3', 3);
    await join('g1', 'u2');
    await send('g1', 'u4', 2);
    await join('g1', 'u5'); // joined late
    await send('d12', 'u2', 1);
    await send('g1', 'u1', 1);
    await leave('g2', 'u4'); // removed for good
    await send('g2', 'u5', 2);
    await leave('g2', 'u6'); // removed and added again with no message since
    await join('g2', 'u6');
    await send('d12', 'u1', 2);

    const before = new Map<string, FeedEntry[]>();
    for (const u of users) {
      const { rows } = await c.query<{ conversation_id: string; seq: string; pos: string }>(
        'SELECT conversation_id, seq, pos FROM feed WHERE user_id = $1 ORDER BY pos',
        [u],
      );
      before.set(
        u,
        rows.map((r) => ({ conversationId: r.conversation_id, seq: Number(r.seq), pos: Number(r.pos) })),
      );
    }
    expect(
      before
        .get('u2')
        ?.filter((e) => e.conversationId === 'g1')
        .map((e) => e.seq),
    ).toEqual([1, 2, 6, 7, 8]);

    await c.query(`UPDATE conversations SET created_by = 'u1', created_at = 7 WHERE id = 'g1'`);

    store = await PostgresStore.open({ url: (db as { url: string }).url, messagePartitions: 4 });
    const s = store;
    const { rows: versions } = await c.query<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    expect(versions.map((v) => v.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    // The conversations' indexes are filled: a pair, a creator's quota, a member's list.
    expect((await s.conversations.findDirect('u2', 'u1'))?.id).toBe('d12');
    expect(await s.conversations.createdSince('u1', 0, 10)).toEqual([7]);
    expect(await s.conversations.createdSince('u2', 0, 10)).toEqual([]);

    const entry = (m: FeedEntry): FeedEntry => ({ conversationId: m.conversationId, seq: m.seq, pos: m.pos });
    for (const u of users) {
      const expected = before.get(u) ?? [];
      // From every position a device could have stopped at, in pages of 2.
      for (const start of [0, ...expected.map((e) => e.pos)]) {
        const read: FeedEntry[] = [];
        let since = start;
        for (;;) {
          const page = await s.messages.readFeed(u, at(since), 2);
          read.push(...page.messages.map(entry));
          since = page.messages.at(-1)?.pos ?? since;
          if (!page.hasMore) break;
        }
        expect(read, `${u} since ${start}`).toEqual(expected.filter((e) => e.pos > start));
      }
      expect(headOf(await s.messages.feedHead(u))).toBe(expected.at(-1)?.pos ?? 0);
    }

    const top = Math.max(...[...before.values()].flat().map((e) => e.pos));
    const [sent] = await s.messages.appendMessages([
      { id: 'after', conversationId: 'g1', senderId: 'u5', clientId: 'after', text: 'hi', createdAt: 5000 },
    ]);
    expect(sent).toMatchObject({ ok: true, duplicate: false, message: { seq: 9 } });
    if (!sent?.ok) throw new Error('append failed');
    expect(sent.message.pos).toBeGreaterThan(top);
    expect([...sent.recipients].sort()).toEqual(['u1', 'u2', 'u3', 'u4', 'u5']);
    // Each recipient's previous feed entry is their last one from before the upgrade.
    expect(sent.prev).toEqual(sent.recipients.map((u) => before.get(u)?.at(-1)?.pos ?? 0));
    for (const u of ['u2', 'u5']) {
      const page = await s.messages.readFeed(u, at(before.get(u)?.at(-1)?.pos ?? 0), 10);
      expect(page.messages.map((m) => m.id)).toEqual(['after']);
    }
    // The old message keys still answer resends.
    const [again] = await s.messages.appendMessages([
      { id: 'x', conversationId: 'd12', senderId: 'u1', clientId: 'k0', text: 'text 1', createdAt: 6000 },
    ]);
    expect(again).toMatchObject({ ok: true, duplicate: true, message: { seq: 1 } });
  });
});
