/** Accounts on the embedded store: users, devices and their tokens, each user's own settings. */
import { DEFAULT_PRIVACY, ParleyError } from '@parley/protocol';
import type { PrivacySettings } from '@parley/protocol';
import type { AccountStore, DeviceRow, DeviceWithUser, UserRow } from '../store.js';
import { PRIVACY_COLUMNS, deviceOfJoin, toDevice, toPrivacy, toUser } from '../common/rows.js';
import type { DeviceDbRow, DeviceJoinRow, PrivacyDbRow, UserDbRow } from '../common/rows.js';
import type { SqliteDriver } from './sqlite-driver.js';

interface PrivacyPatch {
  id: string;
  lastSeen: PrivacySettings['lastSeen'] | null;
  online: PrivacySettings['online'] | null;
  directMessages: PrivacySettings['directMessages'] | null;
  groupAdds: PrivacySettings['groupAdds'] | null;
}

function statements(d: SqliteDriver) {
  return {
    insertUser: d.prepare<[id: string, username: string, displayName: string, hash: string, at: number]>(
      'INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    userById: d.prepare<[id: string], UserDbRow>('SELECT * FROM users WHERE id = ?'),
    userByName: d.prepare<[username: string], UserDbRow>('SELECT * FROM users WHERE username = ?'),
    setDisplayName: d.prepare<[name: string, id: string]>('UPDATE users SET display_name = ? WHERE id = ?'),
    privacy: d.prepare<[id: string], PrivacyDbRow>(`SELECT ${PRIVACY_COLUMNS} FROM users WHERE id = ?`),
    // A null parameter keeps that setting.
    setPrivacy: d.prepare<PrivacyPatch, PrivacyDbRow>(
      `UPDATE users SET privacy_last_seen = COALESCE(@lastSeen, privacy_last_seen),
         privacy_online = COALESCE(@online, privacy_online),
         privacy_direct_messages = COALESCE(@directMessages, privacy_direct_messages),
         privacy_group_adds = COALESCE(@groupAdds, privacy_group_adds)
       WHERE id = @id RETURNING ${PRIVACY_COLUMNS}`,
    ),
    setPushPreview: d.prepare<[preview: 0 | 1, id: string]>('UPDATE users SET push_preview = ? WHERE id = ?'),
    setLastActive: d.prepare<[at: number, id: string]>(
      'UPDATE users SET last_active_at = MAX(COALESCE(last_active_at, 0), ?) WHERE id = ?',
    ),
    insertDevice: d.prepare<
      [id: string, userId: string, name: string, tokenHash: string, createdAt: number, lastSeenAt: number]
    >(
      'INSERT INTO devices (id, user_id, name, token_hash, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    deviceByToken: d.prepare<[tokenHash: string], UserDbRow & DeviceJoinRow>(
      `SELECT d.id AS d_id, d.user_id, d.name AS d_name, d.created_at AS d_created_at, d.last_seen_at,
              u.id, u.username, u.display_name, u.password_hash, u.created_at
       FROM devices d JOIN users u ON u.id = d.user_id
       WHERE d.token_hash = ? AND d.revoked_at IS NULL`,
    ),
    listDevices: d.prepare<[userId: string], DeviceDbRow>(
      'SELECT * FROM devices WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at',
    ),
    revokeDevice: d.prepare<[at: number, id: string, userId: string]>(
      'UPDATE devices SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL',
    ),
    touchDevice: d.prepare<[at: number, id: string]>('UPDATE devices SET last_seen_at = ? WHERE id = ?'),
    // A revoked device's push subscriptions and their jobs go in the same transaction.
    deleteDeviceJobs: d.prepare<[deviceId: string]>(
      'DELETE FROM push_jobs WHERE subscription_id IN (SELECT id FROM push_subscriptions WHERE device_id = ?)',
    ),
    deleteDeviceSubs: d.prepare<[deviceId: string]>('DELETE FROM push_subscriptions WHERE device_id = ?'),
  };
}

const privacyOf = (r: PrivacyDbRow | undefined): PrivacySettings =>
  r ? toPrivacy(r) : { ...DEFAULT_PRIVACY };

// Every method is synchronous underneath; `async` turns thrown errors into rejections.
export class SqliteAccounts implements AccountStore {
  private readonly s: ReturnType<typeof statements>;

  constructor(private readonly d: SqliteDriver) {
    this.s = statements(d);
  }

  async createUser(u: UserRow): Promise<void> {
    try {
      this.s.insertUser.run(u.id, u.username, u.displayName, u.passwordHash, u.createdAt);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new ParleyError('username_taken');
      throw err;
    }
  }
  async getUserById(id: string): Promise<UserRow | null> {
    const r = this.s.userById.get(id);
    return r ? toUser(r) : null;
  }
  async getUserByUsername(username: string): Promise<UserRow | null> {
    const r = this.s.userByName.get(username);
    return r ? toUser(r) : null;
  }
  async getUsersByIds(ids: readonly string[]): Promise<UserRow[]> {
    const out: UserRow[] = [];
    for (const id of ids) {
      const r = this.s.userById.get(id);
      if (r) out.push(toUser(r));
    }
    return out;
  }
  async setDisplayName(userId: string, displayName: string): Promise<void> {
    this.s.setDisplayName.run(displayName, userId);
  }
  async getPrivacy(userId: string): Promise<PrivacySettings> {
    return privacyOf(this.s.privacy.get(userId));
  }
  async getPrivacies(userIds: readonly string[]): Promise<PrivacySettings[]> {
    return userIds.map((id) => privacyOf(this.s.privacy.get(id)));
  }
  async setPrivacy(userId: string, patch: Partial<PrivacySettings>): Promise<PrivacySettings> {
    return privacyOf(
      this.s.setPrivacy.get({
        id: userId,
        lastSeen: patch.lastSeen ?? null,
        online: patch.online ?? null,
        directMessages: patch.directMessages ?? null,
        groupAdds: patch.groupAdds ?? null,
      }),
    );
  }
  async setPushPreview(userId: string, preview: boolean): Promise<void> {
    this.s.setPushPreview.run(preview ? 1 : 0, userId);
  }
  async setLastActive(entries: readonly { userId: string; at: number }[]): Promise<void> {
    this.d.writeTx(() => {
      for (const e of entries) this.s.setLastActive.run(e.at, e.userId);
    })();
  }
  async createDevice(d: DeviceRow, tokenHash: string): Promise<void> {
    this.s.insertDevice.run(d.id, d.userId, d.name, tokenHash, d.createdAt, d.lastSeenAt);
  }
  async getDevicesByTokenHashes(tokenHashes: readonly string[]): Promise<(DeviceWithUser | null)[]> {
    return tokenHashes.map((h) => {
      const r = this.s.deviceByToken.get(h);
      return r ? { user: toUser(r), device: deviceOfJoin(r) } : null;
    });
  }
  async listDevices(userId: string): Promise<DeviceRow[]> {
    return this.s.listDevices.all(userId).map(toDevice);
  }
  async revokeDevice(userId: string, deviceId: string): Promise<boolean> {
    return this.d.writeTx(() => {
      if (this.s.revokeDevice.run(Date.now(), deviceId, userId).changes === 0) return false;
      this.s.deleteDeviceJobs.run(deviceId);
      this.s.deleteDeviceSubs.run(deviceId);
      return true;
    })();
  }
  async touchDevices(ids: readonly string[], at: number): Promise<void> {
    this.d.writeTx(() => {
      for (const id of ids) this.s.touchDevice.run(at, id);
    })();
  }
}
