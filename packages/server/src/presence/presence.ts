/**
 * Presence: a user is online while at least one device is
 * connected and heartbeating. Implementations: `memory/` (one process) and Redis (cluster).
 */

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
  /**
   * A person used this device: it connected, sent, read or typed (heartbeats do not count).
   * Push notifications can go to devices idle for a while (PushServiceOptions.idleSec).
   */
  deviceActive(deviceId: string): void;
  /** The device's last connection (on this server) closed: it is idle from now on. */
  deviceGone(deviceId: string): void;
  /** Last activity of those of `deviceIds` that are connected somewhere (others are absent). */
  deviceActivity(deviceIds: readonly string[]): Promise<Map<string, number>>;
  /** Current state of users known to the tracker (others are absent). */
  states(userIds: readonly string[]): Promise<Map<string, PresenceState>>;
  /** Called on every online/offline transition. */
  onChange(listener: PresenceListener): void;
  /** Last-active times changed since the previous call (for batched persistence). */
  takeDirty(): Array<{ userId: string; at: number }>;
  close(): void;
}
