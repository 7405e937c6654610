/**
 * Accounts: users, their devices and sign-in tokens, and their own settings (display name,
 * privacy, push previews, last active).
 */
import type { PrivacySettings } from '@parley/protocol';

export interface UserRow {
  id: string;
  username: string;
  displayName: string;
  passwordHash: string;
  createdAt: number;
  /** Last time any device was active (persisted in batches); null when never seen. */
  lastActiveAt?: number | null;
  /** Push notifications show message text (the `pushPreview` setting). Default true. */
  pushPreview?: boolean;
}

export interface DeviceRow {
  id: string;
  userId: string;
  name: string;
  createdAt: number;
  lastSeenAt: number;
}

/** A device with its user, as a token lookup answers. */
export interface DeviceWithUser {
  device: DeviceRow;
  user: UserRow;
}

export interface AccountStore {
  /** Throws `username_taken` when the (lower-cased) username exists. */
  createUser(user: UserRow): Promise<void>;
  getUserById(id: string): Promise<UserRow | null>;
  getUserByUsername(username: string): Promise<UserRow | null>;
  getUsersByIds(ids: readonly string[]): Promise<UserRow[]>;
  setDisplayName(userId: string, displayName: string): Promise<void>;
  /** The user's privacy settings (`DEFAULT_PRIVACY` until changed; also for an unknown user). */
  getPrivacy(userId: string): Promise<PrivacySettings>;
  /** Change some of the user's privacy settings (the others stay); returns them all. */
  setPrivacy(userId: string, patch: Partial<PrivacySettings>): Promise<PrivacySettings>;
  /** `getPrivacy` of several users at once, in the order given. */
  getPrivacies(userIds: readonly string[]): Promise<PrivacySettings[]>;
  setPushPreview(userId: string, preview: boolean): Promise<void>;
  /** Persist last-active times (batched by the caller: at most one write per user per minute). */
  setLastActive(entries: readonly { userId: string; at: number }[]): Promise<void>;
  createDevice(device: DeviceRow, tokenHash: string): Promise<void>;
  /**
   * For each token hash, in the order given: the live (not revoked) device holding it, with
   * its user, or null. Many at once: a reconnect storm's upgrades of one event-loop turn
   * cost one store call (see `TurnBatch`).
   */
  getDevicesByTokenHashes(tokenHashes: readonly string[]): Promise<(DeviceWithUser | null)[]>;
  listDevices(userId: string): Promise<DeviceRow[]>;
  /**
   * Revoke one of the user's devices, and remove its push subscriptions (and their unsent
   * jobs) in the same transaction; false when it is not theirs or already revoked.
   */
  revokeDevice(userId: string, deviceId: string): Promise<boolean>;
  touchDevices(ids: readonly string[], at: number): Promise<void>;
}
