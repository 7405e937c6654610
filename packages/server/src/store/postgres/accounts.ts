/**
 * PostgreSQL accounts: Users, devices and their tokens, each user's own settings, placed by user id; usernames and token hashes have index rows placed by their own key.
 */
import { DEFAULT_PRIVACY, ParleyError } from '@parley/protocol';
import type { PrivacySettings } from '@parley/protocol';
import type { AccountStore, DeviceRow, DeviceWithUser, UserRow } from '../store.js';
import { PRIVACY_COLUMNS, deviceOfJoin, toDevice, toPrivacy, toUser } from '../common/rows.js';
import type { DeviceDbRow, DeviceJoinRow, PrivacyDbRow, UserDbRow } from '../common/rows.js';
import { isUniqueViolation } from './postgres-driver.js';
import type { PgDatabase, PgShards, Queryable } from './postgres-driver.js';

/** The columns of a device with its user, as token lookups answer them. */
const DEVICE_WITH_USER = `d.id AS d_id, d.user_id, d.name AS d_name, d.created_at AS d_created_at,
  d.last_seen_at, u.id, u.username, u.display_name, u.password_hash, u.created_at, u.last_active_at`;

/**
 * How long a username's index row without its user is kept for the creation that claimed
 * it (which writes the user right after); older, it is dangling and can be taken.
 */
const CLAIM_SETTLED = '10 seconds';

export class PgAccounts implements AccountStore {
  constructor(private readonly shards: PgShards) {}

  /**
   * The username's index row first: its primary key is what makes a username taken across
   * databases. Then the user on their own database, and a check that the index row is still
   * theirs (see claimUsername: a creation that stalled between its two writes may lose it).
   */
  async createUser(u: UserRow): Promise<void> {
    const index = this.shards.of(u.username);
    const home = this.shards.of(u.id);
    await this.claimUsername(index, u.username, u.id);
    try {
      await home.rows(
        `INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
        [u.id, u.username, u.displayName, u.passwordHash, u.createdAt],
      );
    } catch (err) {
      // Unique per database too: only a user whose creation failed half-way (the index row is
      // not theirs) can hold it here. Refused rather than removed; the index row is freed.
      if (isUniqueViolation(err, 'users_username_key')) {
        await index
          .rows('DELETE FROM usernames WHERE username = $1 AND user_id = $2', [u.username, u.id])
          .catch(() => {}); // left behind, the row is dangling: harmless and takeable
        throw new ParleyError('username_taken');
      }
      throw err;
    }
    // FOR SHARE waits for a claimUsername holding the row: once the user row above is
    // committed, a taker either sees it (and refuses) or has already moved the row.
    const [owner] = await index.rows<{ user_id: string }>(
      'SELECT user_id FROM usernames WHERE username = $1 FOR SHARE',
      [u.username],
    );
    if (owner?.user_id !== u.id) {
      await home.rows('DELETE FROM users WHERE id = $1', [u.id]);
      throw new ParleyError('username_taken');
    }
  }

  /**
   * Point the username's index row at `userId`: a new row, or one whose user does not exist
   * (a creation that crashed between its two writes), taken under a row lock once it is
   * older than CLAIM_SETTLED (a younger one may be a creation still writing its user: racing
   * creations then see `username_taken`, not a takeover). `username_taken` when it belongs to
   * an existing user.
   */
  private claimUsername(index: PgDatabase, username: string, userId: string): Promise<void> {
    return index.transaction(async (c) => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const { rows: inserted } = await c.query(
          'INSERT INTO usernames (username, user_id) VALUES ($1, $2) ON CONFLICT (username) DO NOTHING RETURNING user_id',
          [username, userId],
        );
        if (inserted.length > 0) return;
        const { rows } = await c.query<{ user_id: string; settled: boolean }>(
          `SELECT user_id, claimed_at < now() - $2::interval AS settled
           FROM usernames WHERE username = $1 FOR UPDATE`,
          [username, CLAIM_SETTLED],
        );
        const held = rows[0];
        if (!held) continue; // freed since the insert: try again
        if (held.user_id === userId) return;
        const owner = this.shards.of(held.user_id);
        // On the same database, through this transaction's connection rather than a second one.
        const on: Queryable = owner === index ? c : owner.pool;
        const { rows: live } = await on.query('SELECT 1 FROM users WHERE id = $1 AND username = $2', [
          held.user_id,
          username,
        ]);
        if (live.length > 0 || !held.settled) throw new ParleyError('username_taken');
        await c.query('UPDATE usernames SET user_id = $2, claimed_at = now() WHERE username = $1', [
          username,
          userId,
        ]);
        return;
      }
      throw new ParleyError('unavailable');
    });
  }

  async getUserById(id: string): Promise<UserRow | null> {
    const [r] = await this.shards.of(id).rows<UserDbRow>('SELECT * FROM users WHERE id = $1', [id]);
    return r ? toUser(r) : null;
  }
  async getUserByUsername(username: string): Promise<UserRow | null> {
    const [index] = await this.shards
      .of(username)
      .rows<{ user_id: string }>('SELECT user_id FROM usernames WHERE username = $1', [username]);
    if (!index) return null;
    // The user must have that username: an index row can outlive a failed creation.
    const [r] = await this.shards
      .of(index.user_id)
      .rows<UserDbRow>('SELECT * FROM users WHERE id = $1 AND username = $2', [index.user_id, username]);
    return r ? toUser(r) : null;
  }
  async getUsersByIds(ids: readonly string[]): Promise<UserRow[]> {
    if (ids.length === 0) return [];
    const byId = new Map<string, UserDbRow>();
    await Promise.all(
      [...this.shards.group([...new Set(ids)], (id) => id)].map(async ([db, part]) => {
        const rows = await db.rows<UserDbRow>('SELECT * FROM users WHERE id = ANY($1::text[])', [
          part.map((p) => p.item),
        ]);
        for (const r of rows) byId.set(r.id, r);
      }),
    );
    // Same order as asked, like the embedded store.
    return ids.flatMap((id) => {
      const r = byId.get(id);
      return r ? [toUser(r)] : [];
    });
  }
  async setDisplayName(userId: string, displayName: string): Promise<void> {
    await this.shards
      .of(userId)
      .rows('UPDATE users SET display_name = $1 WHERE id = $2', [displayName, userId]);
  }
  async getPrivacy(userId: string): Promise<PrivacySettings> {
    const [r] = await this.shards
      .of(userId)
      .rows<PrivacyDbRow>(`SELECT ${PRIVACY_COLUMNS} FROM users WHERE id = $1`, [userId]);
    return r ? toPrivacy(r) : { ...DEFAULT_PRIVACY };
  }
  async getPrivacies(userIds: readonly string[]): Promise<PrivacySettings[]> {
    if (userIds.length === 0) return [];
    const byId = new Map<string, PrivacySettings>();
    await Promise.all(
      [...this.shards.group([...new Set(userIds)], (id) => id)].map(async ([db, part]) => {
        const rows = await db.rows<PrivacyDbRow & { id: string }>(
          `SELECT id, ${PRIVACY_COLUMNS} FROM users WHERE id = ANY($1::text[])`,
          [part.map((p) => p.item)],
        );
        for (const r of rows) byId.set(r.id, toPrivacy(r));
      }),
    );
    return userIds.map((id) => byId.get(id) ?? { ...DEFAULT_PRIVACY });
  }
  async setPrivacy(userId: string, patch: Partial<PrivacySettings>): Promise<PrivacySettings> {
    // A null parameter keeps that setting.
    const [r] = await this.shards.of(userId).rows<PrivacyDbRow>(
      `UPDATE users SET privacy_last_seen = COALESCE($2, privacy_last_seen),
         privacy_online = COALESCE($3, privacy_online),
         privacy_direct_messages = COALESCE($4, privacy_direct_messages),
         privacy_group_adds = COALESCE($5, privacy_group_adds)
       WHERE id = $1 RETURNING ${PRIVACY_COLUMNS}`,
      [
        userId,
        patch.lastSeen ?? null,
        patch.online ?? null,
        patch.directMessages ?? null,
        patch.groupAdds ?? null,
      ],
    );
    return r ? toPrivacy(r) : { ...DEFAULT_PRIVACY };
  }

  /**
   * The token's index row first, the device last: a crash between them leaves an index row
   * whose device does not exist, which token lookups ignore (never a listed device that no
   * token reaches). The index row's primary key keeps token hashes unique across databases.
   */
  async createDevice(d: DeviceRow, tokenHash: string): Promise<void> {
    const index = this.shards.of(tokenHash);
    await index.rows('INSERT INTO device_tokens (token_hash, device_id, user_id) VALUES ($1, $2, $3)', [
      tokenHash,
      d.id,
      d.userId,
    ]);
    try {
      await this.shards
        .of(d.userId)
        .rows(
          `INSERT INTO devices (id, user_id, name, token_hash, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)`,
          [d.id, d.userId, d.name, tokenHash, d.createdAt, d.lastSeenAt],
        );
    } catch (err) {
      await index
        .rows('DELETE FROM device_tokens WHERE token_hash = $1 AND device_id = $2', [tokenHash, d.id])
        .catch(() => {}); // left behind, the row is dangling: ignored by lookups
      throw err;
    }
  }

  async getDevicesByTokenHashes(tokenHashes: readonly string[]): Promise<(DeviceWithUser | null)[]> {
    if (tokenHashes.length === 0) return [];
    if (this.shards.single) return this.devicesOnOneDatabase(tokenHashes);
    // The index rows on the token hashes' databases, then the devices and users on the users'
    // databases: two rounds of one statement per database, whatever the batch's size.
    const hashes = [...new Set(tokenHashes)];
    const found: { hash: string; deviceId: string; userId: string }[] = [];
    await Promise.all(
      [...this.shards.group(hashes, (h) => h)].map(async ([db, part]) => {
        const rows = await db.rows<{ hash: string; device_id: string; user_id: string }>(
          `SELECT t.hash, x.device_id, x.user_id FROM unnest($1::text[]) AS t(hash)
           CROSS JOIN LATERAL (
             SELECT x.device_id, x.user_id FROM device_tokens x WHERE x.token_hash = t.hash LIMIT 1
           ) x`,
          [part.map((p) => p.item)],
          'parley_device_tokens',
        );
        for (const r of rows) found.push({ hash: r.hash, deviceId: r.device_id, userId: r.user_id });
      }),
    );
    const byHash = new Map<string, DeviceWithUser>();
    await Promise.all(
      [...this.shards.group(found, (f) => f.userId)].map(async ([db, part]) => {
        // The device must still hold that token: an index row can outlive a failed creation.
        const rows = await db.rows<UserDbRow & DeviceJoinRow & { hash: string }>(
          `SELECT t.hash, ${DEVICE_WITH_USER}
           FROM unnest($1::text[], $2::text[]) AS t(hash, device_id)
           CROSS JOIN LATERAL (
             SELECT d.* FROM devices d
             WHERE d.id = t.device_id AND d.token_hash = t.hash AND d.revoked_at IS NULL LIMIT 1
           ) d
           CROSS JOIN LATERAL (SELECT u.* FROM users u WHERE u.id = d.user_id LIMIT 1) u`,
          [part.map((p) => p.item.hash), part.map((p) => p.item.deviceId)],
          'parley_devices_by_id_token',
        );
        for (const r of rows) byHash.set(r.hash, { user: toUser(r), device: deviceOfJoin(r) });
      }),
    );
    return tokenHashes.map((h) => byHash.get(h) ?? null);
  }

  /**
   * With one database the devices themselves answer, by their unique token hash: one round
   * trip on the path of every connect. The index rows are written all the same, for when
   * the logical shards spread over several databases.
   */
  private async devicesOnOneDatabase(tokenHashes: readonly string[]): Promise<(DeviceWithUser | null)[]> {
    // One unique-index probe per hash (LATERAL … LIMIT 1): a join could be planned as a
    // sequential scan of every device when the batch is large.
    const rows = await this.shards.catalog.rows<UserDbRow & DeviceJoinRow & { n: number }>(
      `SELECT t.n::int AS n, ${DEVICE_WITH_USER}
       FROM unnest($1::text[]) WITH ORDINALITY AS t(hash, n)
       CROSS JOIN LATERAL (
         SELECT d.* FROM devices d WHERE d.token_hash = t.hash AND d.revoked_at IS NULL LIMIT 1
       ) d
       CROSS JOIN LATERAL (SELECT u.* FROM users u WHERE u.id = d.user_id LIMIT 1) u`,
      [tokenHashes],
      'parley_devices_by_token',
    );
    const out: (DeviceWithUser | null)[] = tokenHashes.map(() => null);
    for (const r of rows) out[r.n - 1] = { user: toUser(r), device: deviceOfJoin(r) };
    return out;
  }
  async listDevices(userId: string): Promise<DeviceRow[]> {
    const rows = await this.shards
      .of(userId)
      .rows<DeviceDbRow>(
        'SELECT * FROM devices WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id',
        [userId],
      );
    return rows.map(toDevice);
  }
  /** On the user's database, with their push subscriptions and jobs; the token's index row stays, dead. */
  revokeDevice(userId: string, deviceId: string): Promise<boolean> {
    return this.shards.of(userId).transaction(async (c) => {
      const { rows } = await c.query(
        `UPDATE devices SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL RETURNING id`,
        [Date.now(), deviceId, userId],
      );
      if (rows.length === 0) return false;
      await c.query(
        `WITH subs AS (DELETE FROM push_subscriptions WHERE device_id = $1 RETURNING id)
         DELETE FROM push_jobs WHERE subscription_id IN (SELECT id FROM subs)`,
        [deviceId],
      );
      return true;
    });
  }
  async touchDevices(ids: readonly string[], at: number): Promise<void> {
    if (ids.length === 0) return;
    // A device id does not tell its user's database, and this batched write (last-seen
    // times, a few per minute) is too rare for an index: every database probes its
    // primary key for the ids, and updates those it has.
    await this.shards.all((db) =>
      db.rows('UPDATE devices SET last_seen_at = $1 WHERE id = ANY($2::text[])', [at, ids]),
    );
  }

  async setLastActive(entries: readonly { userId: string; at: number }[]): Promise<void> {
    if (entries.length === 0) return;
    const latest = new Map<string, number>();
    for (const e of entries) latest.set(e.userId, Math.max(e.at, latest.get(e.userId) ?? 0));
    await Promise.all(
      [...this.shards.group([...latest], ([id]) => id)].map(([db, part]) =>
        db.rows(
          `UPDATE users u SET last_active_at = GREATEST(COALESCE(u.last_active_at, 0), v.at)
           FROM unnest($1::text[], $2::int8[]) AS v(id, at)
           WHERE u.id = v.id`,
          [part.map((p) => p.item[0]), part.map((p) => p.item[1])],
        ),
      ),
    );
  }
  async setPushPreview(userId: string, preview: boolean): Promise<void> {
    await this.shards.of(userId).rows('UPDATE users SET push_preview = $1 WHERE id = $2', [preview, userId]);
  }
}
