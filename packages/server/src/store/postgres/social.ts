/**
 * PostgreSQL social: Contacts, declines and blocks, placed by the user whose side they are (a
 * relation is two rows, one on each user's database; a block is on the blocker's); presence
 * audiences and visibility derived from them and from conversations, whose members are found
 * through each user's conversation index (`user_conversations`) and verified on the
 * conversation's database.
 */
import type { ContactRow, SocialStore } from '../store.js';
import { directKey } from '../common/direct-key.js';
import type { PgDatabase, PgShards, Queryable } from './postgres-driver.js';

/** First key of the two-key form `pg_advisory_xact_lock(int, int)` taken per user pair (blocks). */
const PAIR_LOCK = 0x70610001;
/** The same for contact relations whose two sides live on different databases. */
const CONTACT_LOCK = 0x70610002;

/** One user blocking another. */
interface BlockPair {
  blocker: string;
  blocked: string;
}

const pairKey = (a: string, b: string) => `${a}\u0000${b}`;
/** Byte order, as the "C" collation of the id columns. */
const byId = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);

export class PgSocial implements SocialStore {
  constructor(private readonly shards: PgShards) {}

  async relatedUsers(userId: string): Promise<string[]> {
    const rows = await this.shards.of(userId).rows<{ id: string | null; conversation_id: string | null }>(
      `SELECT contact_id AS id, NULL::text AS conversation_id FROM contacts WHERE user_id = $1
       UNION ALL
       SELECT NULL, conversation_id FROM user_conversations WHERE user_id = $1 AND member`,
      [userId],
    );
    const out = new Set<string>([userId]);
    const conversations: string[] = [];
    for (const r of rows) {
      if (r.id !== null) out.add(r.id);
      if (r.conversation_id !== null) conversations.push(r.conversation_id);
    }
    await Promise.all(
      [...this.shards.group(conversations, (c) => c)].map(async ([db, part]) => {
        // Only conversations the user is still a member of there: the index may lag behind.
        const members = await db.rows<{ user_id: string }>(
          `SELECT DISTINCT b.user_id FROM members a JOIN members b ON b.conversation_id = a.conversation_id
           WHERE a.conversation_id = ANY($1::text[]) AND a.user_id = $2`,
          [part.map((p) => p.item), userId],
        );
        for (const m of members) out.add(m.user_id);
      }),
    );
    return [...out].sort(byId);
  }

  async presenceAudiences(userIds: readonly string[]): Promise<string[][]> {
    if (userIds.length === 0) return [];
    const users = [...new Set(userIds)];
    // Candidates from each user's database: accepted contacts and 1:1 partners (from the
    // index), minus the user's own blocks, which live there too.
    const contacts: { userId: string; id: string }[] = [];
    const partners: { conversationId: string; userId: string; peerId: string }[] = [];
    await Promise.all(
      [...this.shards.group(users, (u) => u)].map(async ([db, part]) => {
        // Per user, index probes only (LATERAL by key): as joins, the generic plan of such a
        // batch scanned whole tables once per user.
        const rows = await db.rows<{ user_id: string; id: string; conversation_id: string | null }>(
          `SELECT u.id AS user_id, a.id, a.conversation_id
           FROM unnest($1::text[]) AS u(id)
           CROSS JOIN LATERAL (
             SELECT k.contact_id AS id, NULL::text AS conversation_id
             FROM contacts k WHERE k.user_id = u.id AND k.state = 'accepted'
             UNION ALL
             SELECT x.peer_id, x.conversation_id FROM user_conversations x
             WHERE x.user_id = u.id AND x.kind = 'direct' AND x.member AND x.peer_id <> u.id
           ) a
           WHERE a.id <> u.id
             AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = a.id)`,
          [part.map((p) => p.item)],
          'parley_presence_candidates',
        );
        for (const r of rows) {
          if (r.conversation_id === null) contacts.push({ userId: r.user_id, id: r.id });
          else partners.push({ conversationId: r.conversation_id, userId: r.user_id, peerId: r.id });
        }
      }),
    );
    // Then, at once: the partners' memberships on the conversations' databases (neither side
    // a pending request; also what verifies the index), and blocks of the user by each
    // candidate, on the candidate's database.
    const [partnersOk, blockedBy] = await Promise.all([
      this.directPartners(partners),
      this.blockedPairs([
        ...contacts.map((c) => ({ blocker: c.id, blocked: c.userId })),
        ...partners.map((p) => ({ blocker: p.peerId, blocked: p.userId })),
      ]),
    ]);
    const audience = new Map<string, Set<string>>(users.map((u) => [u, new Set()]));
    const add = (userId: string, id: string) => {
      if (!blockedBy.has(pairKey(id, userId))) audience.get(userId)?.add(id);
    };
    for (const c of contacts) add(c.userId, c.id);
    partners.forEach((p, i) => {
      if (partnersOk[i]) add(p.userId, p.peerId);
    });
    const sorted = new Map([...audience].map(([u, s]) => [u, [...s].sort(byId)]));
    return userIds.map((u) => [...(sorted.get(u) ?? [])]);
  }

  /** For each (conversation, user, peer): whether both are members there, neither by a pending request. */
  private async directPartners(
    partners: readonly { conversationId: string; userId: string; peerId: string }[],
  ): Promise<boolean[]> {
    const ok = partners.map(() => false);
    await Promise.all(
      [...this.shards.group(partners, (p) => p.conversationId)].map(async ([db, part]) => {
        const rows = await db.rows<{ n: number }>(
          `SELECT v.n::int AS n FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS v(c, u, p, n)
           WHERE EXISTS (SELECT 1 FROM members m
                         WHERE m.conversation_id = v.c AND m.user_id = v.u AND m.request_seq IS NULL)
             AND EXISTS (SELECT 1 FROM members m
                         WHERE m.conversation_id = v.c AND m.user_id = v.p AND m.request_seq IS NULL)`,
          [
            part.map((p) => p.item.conversationId),
            part.map((p) => p.item.userId),
            part.map((p) => p.item.peerId),
          ],
          'parley_presence_partners',
        );
        for (const r of rows) {
          const i = part[r.n - 1]?.i;
          if (i !== undefined) ok[i] = true;
        }
      }),
    );
    return ok;
  }

  /** Of `pairs`, the blocks that exist (as `pairKey(blocker, blocked)`), each read on its blocker's database. */
  private async blockedPairs(pairs: readonly BlockPair[]): Promise<Set<string>> {
    const wanted = new Map<string, BlockPair>();
    for (const p of pairs) wanted.set(pairKey(p.blocker, p.blocked), p);
    const found = new Set<string>();
    await Promise.all(
      [...this.shards.group([...wanted.values()], (p) => p.blocker)].map(async ([db, part]) => {
        const rows = await db.rows<{ blocker: string; blocked: string }>(
          `SELECT v.blocker, v.blocked FROM unnest($1::text[], $2::text[]) AS v(blocker, blocked)
           WHERE EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = v.blocker AND b.blocked_id = v.blocked)`,
          [part.map((p) => p.item.blocker), part.map((p) => p.item.blocked)],
          'parley_blocked_pairs',
        );
        for (const r of rows) found.add(pairKey(r.blocker, r.blocked));
      }),
    );
    return found;
  }

  async acceptedContacts(userIds: readonly string[]): Promise<string[][]> {
    if (userIds.length === 0) return [];
    const out: string[][] = userIds.map(() => []);
    await Promise.all(
      [...this.shards.group(userIds, (u) => u)].map(async ([db, part]) => {
        const rows = await db.rows<{ n: number; id: string }>(
          `SELECT u.n::int AS n, k.contact_id AS id
           FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n)
           JOIN contacts k ON k.user_id = u.id AND k.state = 'accepted'
           ORDER BY u.n, k.contact_id`,
          [part.map((p) => p.item)],
        );
        for (const r of rows) {
          const i = part[r.n - 1]?.i;
          if (i !== undefined) out[i]?.push(r.id);
        }
      }),
    );
    return out;
  }

  async visibleTo(viewerId: string, userIds: readonly string[]): Promise<string[]> {
    const others = [...new Set(userIds)].filter((u) => u !== viewerId);
    if (others.length === 0) return userIds.filter((u) => u === viewerId);
    // The viewer's side (contacts, own blocks, conversations) on the viewer's database, and
    // blocks of the viewer by the others on theirs, at once.
    const [rows, blockedBy] = await Promise.all([
      this.shards.of(viewerId).rows<{ k: 'contact' | 'blocked' | 'conversation'; id: string }>(
        `SELECT 'contact' AS k, contact_id AS id FROM contacts
         WHERE user_id = $1 AND contact_id = ANY($2::text[]) AND state = 'accepted'
         UNION ALL
         SELECT 'blocked', blocked_id FROM blocks WHERE blocker_id = $1 AND blocked_id = ANY($2::text[])
         UNION ALL
         SELECT 'conversation', conversation_id FROM user_conversations WHERE user_id = $1 AND member`,
        [viewerId, others],
      ),
      this.blockedPairs(others.map((u) => ({ blocker: u, blocked: viewerId }))),
    ]);
    const visible = new Set<string>();
    const hidden = new Set(others.filter((u) => blockedBy.has(pairKey(u, viewerId))));
    const conversations: string[] = [];
    for (const r of rows) {
      if (r.k === 'contact') visible.add(r.id);
      else if (r.k === 'blocked') hidden.add(r.id);
      else conversations.push(r.id);
    }
    const rest = others.filter((u) => !visible.has(u) && !hidden.has(u));
    if (rest.length > 0)
      await Promise.all(
        [...this.shards.group(conversations, (c) => c)].map(async ([db, part]) => {
          // Membership on the conversation's database, which also verifies the index.
          const mates = await db.rows<{ user_id: string }>(
            `SELECT DISTINCT b.user_id FROM members a JOIN members b ON b.conversation_id = a.conversation_id
             WHERE a.conversation_id = ANY($1::text[]) AND a.user_id = $2 AND a.request_seq IS NULL
               AND b.user_id = ANY($3::text[]) AND b.request_seq IS NULL`,
            [part.map((p) => p.item), viewerId, rest],
          );
          for (const m of mates) visible.add(m.user_id);
        }),
      );
    return userIds.filter((u) => u === viewerId || (visible.has(u) && !hidden.has(u)));
  }

  async listContacts(userId: string): Promise<ContactRow[]> {
    const rows = await this.shards
      .of(userId)
      .rows<{ contact_id: string; state: ContactRow['state']; since: number }>(
        'SELECT contact_id, state, since FROM contacts WHERE user_id = $1 ORDER BY since, contact_id',
        [userId],
      );
    return rows.map((r) => ({ userId: r.contact_id, state: r.state, since: r.since }));
  }
  async getContactState(
    userId: string,
    otherId: string,
  ): Promise<'accepted' | 'incoming' | 'outgoing' | 'none'> {
    const [r] = await this.shards
      .of(userId)
      .rows<{ state: ContactRow['state'] }>(
        'SELECT state FROM contacts WHERE user_id = $1 AND contact_id = $2',
        [userId, otherId],
      );
    return r?.state ?? 'none';
  }
  async setContactPair(
    a: string,
    stateA: ContactRow['state'] | 'none',
    b: string,
    stateB: ContactRow['state'] | 'none',
    now: number,
  ): Promise<void> {
    const dbA = this.shards.of(a);
    const dbB = this.shards.of(b);
    if (dbA === dbB) {
      await dbA.transaction(async (c) => {
        await setSide(c, a, b, stateA, now);
        await setSide(c, b, a, stateB, now);
      });
      return;
    }
    // Two databases: the pair's writes one at a time, so two changes of one relation never
    // interleave into sides from different changes. The other side first, the asker's last:
    // after a failure the asker still sees the old state and asks again (both writes are
    // idempotent).
    await this.underPairLock(CONTACT_LOCK, directKey(a, b), async (on) => {
      await setSide(on(dbB), b, a, stateB, now);
      await setSide(on(dbA), a, b, stateA, now);
    });
  }
  async recordDecline(userId: string, requesterId: string, at: number): Promise<void> {
    await this.shards.of(userId).rows(
      `INSERT INTO contact_declines (user_id, requester_id, declined_at) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, requester_id) DO UPDATE SET declined_at = excluded.declined_at`,
      [userId, requesterId, at],
    );
  }
  async declinedAt(userId: string, requesterId: string): Promise<number | null> {
    const [r] = await this.shards
      .of(userId)
      .rows<{ declined_at: number }>(
        'SELECT declined_at FROM contact_declines WHERE user_id = $1 AND requester_id = $2',
        [userId, requesterId],
      );
    return r ? Number(r.declined_at) : null;
  }

  block(blockerId: string, blockedId: string, now: number): Promise<void> {
    // Blocks and unblocks of one pair, from any server, one at a time: the conversation's
    // flag is derived from the blocks and must not be written from a stale view. The block
    // first: a retry after a failure sets the flag.
    return this.underPairLock(PAIR_LOCK, directKey(blockerId, blockedId), async (on, pairs) => {
      await on(this.shards.of(blockerId)).query(
        `INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
        [blockerId, blockedId, now],
      );
      await this.setDirectBlocked(on, pairs, directKey(blockerId, blockedId), true);
    });
  }
  unblock(blockerId: string, blockedId: string): Promise<void> {
    return this.underPairLock(PAIR_LOCK, directKey(blockerId, blockedId), async (on, pairs) => {
      await on(this.shards.of(blockerId)).query(
        'DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2',
        [blockerId, blockedId],
      );
      // Still blocked either way: read on both blockers' databases, under the pair's lock.
      const still = await Promise.all(
        [
          [blockerId, blockedId],
          [blockedId, blockerId],
        ].map(async ([x, y]) => {
          const { rows } = await on(this.shards.of(x as string)).query(
            'SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2',
            [x, y],
          );
          return rows.length > 0;
        }),
      );
      await this.setDirectBlocked(on, pairs, directKey(blockerId, blockedId), still.some(Boolean));
    });
  }

  /**
   * Set the blocked flag of the pair's direct conversation, if any: found through
   * `direct_pairs` (on `pairs`, the pair's database) and checked against the conversation's
   * own direct key, so a dangling index row changes nothing.
   */
  private async setDirectBlocked(
    on: (db: PgDatabase) => Queryable,
    pairs: Queryable,
    key: string,
    blocked: boolean,
  ): Promise<void> {
    const { rows } = await pairs.query<{ conversation_id: string }>(
      'SELECT conversation_id FROM direct_pairs WHERE direct_key = $1',
      [key],
    );
    const id = rows[0]?.conversation_id;
    if (id === undefined) return;
    await on(this.shards.of(id)).query(
      `UPDATE conversations SET blocked = $3 WHERE id = $1 AND direct_key = $2 AND kind = 'direct'`,
      [id, key, blocked],
    );
  }

  /**
   * Run `fn` in a transaction on the database of the pair's `key` that holds the pair's
   * advisory lock `lock`. `on(db)` runs statements in that transaction when `db` is its
   * database (one connection, one commit) and on `db`'s pool otherwise; `pairs` is the
   * transaction itself.
   */
  private underPairLock<T>(
    lock: number,
    key: string,
    fn: (on: (db: PgDatabase) => Queryable, pairs: Queryable) => Promise<T>,
  ): Promise<T> {
    const home = this.shards.of(key);
    return home.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [lock, key]);
      return fn((db) => (db === home ? c : db.pool), c);
    });
  }

  async isBlockedEither(a: string, b: string): Promise<boolean> {
    return (await this.blockedAmong(a, [b])).length > 0;
  }
  async blockedAmong(userId: string, others: readonly string[]): Promise<string[]> {
    if (others.length === 0) return [];
    const found = await this.blockedPairs(
      others.flatMap((o) => [
        { blocker: userId, blocked: o },
        { blocker: o, blocked: userId },
      ]),
    );
    return others.filter((o) => found.has(pairKey(userId, o)) || found.has(pairKey(o, userId)));
  }
  async listBlocked(userId: string): Promise<string[]> {
    const rows = await this.shards
      .of(userId)
      .rows<{ blocked_id: string }>(
        'SELECT blocked_id FROM blocks WHERE blocker_id = $1 ORDER BY created_at, blocked_id',
        [userId],
      );
    return rows.map((r) => r.blocked_id);
  }
}

/** One side of a relation: `userId`'s row about `otherId` ('none' removes it). */
async function setSide(
  c: Queryable,
  userId: string,
  otherId: string,
  state: ContactRow['state'] | 'none',
  now: number,
): Promise<void> {
  if (state === 'none')
    await c.query('DELETE FROM contacts WHERE user_id = $1 AND contact_id = $2', [userId, otherId]);
  else
    await c.query(
      `INSERT INTO contacts (user_id, contact_id, state, since) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id, contact_id) DO UPDATE SET state = excluded.state, since = excluded.since`,
      [userId, otherId, state, now],
    );
}
