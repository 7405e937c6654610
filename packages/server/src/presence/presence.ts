/**
 * Presence: a user is online while at least one device is
 * connected and heartbeating. Implementations: `memory/` (one process) and Redis (cluster).
 */
import type { DeviceUse } from './device-activity.js';

export interface PresenceState {
  online: boolean;
  /** Last heartbeat of any device; null when not seen since the tracker started. */
  lastActiveAt: number | null;
}

export type PresenceListener = (userId: string, state: PresenceState) => void;

export interface PresenceTracker {
  /** A device connection opened. */
  connected(userId: string, connectionId: string): void;
  /** Any frame from the user (ping or otherwise) counts as a heartbeat. */
  heartbeat(userId: string): void;
  /**
   * A connection closed. `clean`: the client said goodbye (close 1000, logout, revocation),
   * so the user goes offline at once if it was the last one; otherwise (network loss, page
   * reload) the user stays online until the heartbeat timeout passes, so a quick reconnect
   * produces no offline/online flap.
   */
  disconnected(userId: string, connectionId: string, clean: boolean): void;
  /** A connection of a device opened (a person opened the app: that is a use). */
  deviceConnected(deviceId: string, connectionId: string): void;
  /**
   * A person used this device: it sent, read, typed or reported activity (heartbeats do not
   * count). A device in active use gets no push notifications (device-activity.ts).
   */
  deviceActive(deviceId: string): void;
  /** A connection's app went to the foreground (also a use) or the background (`active` frame). */
  deviceForeground(deviceId: string, connectionId: string, foreground: boolean): void;
  /** A connection of a device closed; after its last one (on this server) the device is not in use. */
  deviceDisconnected(deviceId: string, connectionId: string): void;
  /** Use of those of `deviceIds` that are connected somewhere (others are absent). */
  deviceActivity(deviceIds: readonly string[]): Promise<Map<string, DeviceUse>>;
  /** Current state of users known to the tracker (others are absent). */
  states(userIds: readonly string[]): Promise<Map<string, PresenceState>>;
  /** Called on every online/offline transition. */
  onChange(listener: PresenceListener): void;
  /** Last-active times changed since the previous call (for batched persistence). */
  takeDirty(): Array<{ userId: string; at: number }>;
  close(): void;
}
