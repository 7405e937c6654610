/**
 * PostgreSQL accounts: Users, devices and their tokens, each user's own settings, placed by user id; usernames and token hashes have index rows placed by their own key.
 */
import pg from 'pg';
import { DEFAULT_PRIVACY, ParleyError } from '@parley/protocol';
import type { PrivacySettings } from '@parley/protocol';
import type { AccountStore, DeviceRow, DeviceWithUser, UserRow } from '../store.js';
import { PRIVACY_COLUMNS, deviceOfJoin, toDevice, toPrivacy, toUser } from '../common/rows.js';
import type { DeviceDbRow, DeviceJoinRow, PrivacyDbRow, UserDbRow } from '../common/rows.js';
import type { PgDatabase, PgShards } from './postgres-driver.js';

export class PgAccounts implements AccountStore {
  constructor(private readonly shards: PgShards) {}

  private get db(): PgDatabase {
    return this.shards.catalog;
  }

  async createUser(u: UserRow): Promise<void> {
    try {
      // With the user, their feed head: the row appends lock to keep the feed in order.
      await this.db.rows(
        `WITH u AS (
           INSERT INTO users (id, username, display_name, password_hash, created_at)
           VALUES ($1, $2, $3, $4, $5) RETURNING id
         )
         INSERT INTO feed_heads (user_id) SELECT id FROM u`,
        [u.id, u.username, u.displayName, u.passwordHash, u.createdAt],
      );
    } catch (err) {
      if (err instanceof pg.DatabaseError && err.code === '23505' && err.constraint === 'users_username_key')
        throw new ParleyError('username_taken');
      throw err;
    }
  }
  async getUserById(id: string): Promise<UserRow | null> {
    const [r] = await this.db.rows<UserDbRow>('SELECT * FROM users WHERE id = $1', [id]);
    return r ? toUser(r) : null;
  }
  async getUserByUsername(username: string): Promise<UserRow | null> {
    const [r] = await this.db.rows<UserDbRow>('SELECT * FROM users WHERE username = $1', [username]);
    return r ? toUser(r) : null;
  }
  async getUsersByIds(ids: readonly string[]): Promise<UserRow[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.rows<UserDbRow>('SELECT * FROM users WHERE id = ANY($1::text[])', [ids]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    // Same order as asked, like the embedded store.
    return ids.flatMap((id) => {
      const r = byId.get(id);
      return r ? [toUser(r)] : [];
    });
  }
  async setDisplayName(userId: string, displayName: string): Promise<void> {
    await this.db.rows('UPDATE users SET display_name = $1 WHERE id = $2', [displayName, userId]);
  }
  async getPrivacy(userId: string): Promise<PrivacySettings> {
    const [r] = await this.db.rows<PrivacyDbRow>(`SELECT ${PRIVACY_COLUMNS} FROM users WHERE id = $1`, [
      userId,
    ]);
    return r ? toPrivacy(r) : { ...DEFAULT_PRIVACY };
  }
  async getPrivacies(userIds: readonly string[]): Promise<PrivacySettings[]> {
    if (userIds.length === 0) return [];
    const rows = await this.db.rows<PrivacyDbRow & { id: string }>(
      `SELECT id, ${PRIVACY_COLUMNS} FROM users WHERE id = ANY($1::text[])`,
      [[...new Set(userIds)]],
    );
    const byId = new Map(rows.map((r) => [r.id, toPrivacy(r)]));
    return userIds.map((id) => byId.get(id) ?? { ...DEFAULT_PRIVACY });
  }
  async setPrivacy(userId: string, patch: Partial<PrivacySettings>): Promise<PrivacySettings> {
    // A null parameter keeps that setting.
    const [r] = await this.db.rows<PrivacyDbRow>(
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
  async createDevice(d: DeviceRow, tokenHash: string): Promise<void> {
    await this.db.rows(
      `INSERT INTO devices (id, user_id, name, token_hash, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)`,
      [d.id, d.userId, d.name, tokenHash, d.createdAt, d.lastSeenAt],
    );
  }
  async getDevicesByTokenHashes(tokenHashes: readonly string[]): Promise<(DeviceWithUser | null)[]> {
    if (tokenHashes.length === 0) return [];
    // One unique-index probe per hash (LATERAL … LIMIT 1): a join could be planned as a
    // sequential scan of every device when the batch is large.
    const rows = await this.db.rows<UserDbRow & DeviceJoinRow & { n: number }>(
      `SELECT t.n::int AS n, d.id AS d_id, d.user_id, d.name AS d_name, d.created_at AS d_created_at,
              d.last_seen_at, u.id, u.username, u.display_name, u.password_hash, u.created_at, u.last_active_at
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
    const rows = await this.db.rows<DeviceDbRow>(
      'SELECT * FROM devices WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id',
      [userId],
    );
    return rows.map(toDevice);
  }
  revokeDevice(userId: string, deviceId: string): Promise<boolean> {
    return this.db.transaction(async (c) => {
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
    await this.db.rows('UPDATE devices SET last_seen_at = $1 WHERE id = ANY($2::text[])', [at, ids]);
  }

  async setLastActive(entries: readonly { userId: string; at: number }[]): Promise<void> {
    if (entries.length === 0) return;
    const latest = new Map<string, number>();
    for (const e of entries) latest.set(e.userId, Math.max(e.at, latest.get(e.userId) ?? 0));
    await this.db.rows(
      `UPDATE users u SET last_active_at = GREATEST(COALESCE(u.last_active_at, 0), v.at)
       FROM unnest($1::text[], $2::int8[]) AS v(id, at)
       WHERE u.id = v.id`,
      [[...latest.keys()], [...latest.values()]],
    );
  }
  async setPushPreview(userId: string, preview: boolean): Promise<void> {
    await this.db.rows('UPDATE users SET push_preview = $1 WHERE id = $2', [preview, userId]);
  }
}
