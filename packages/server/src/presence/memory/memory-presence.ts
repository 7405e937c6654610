import { LocalDevices } from '../device-activity.js';
import type { DeviceUse } from '../device-activity.js';
import type { PresenceListener, PresenceState, PresenceTracker } from '../presence.js';

/** Offline users are dropped from memory this long after their last heartbeat. */
const FORGET_AFTER_MS = 10 * 60_000;

interface Entry {
  connections: Set<string>;
  lastBeat: number;
  online: boolean;
}

/** Presence held in this process: right for the embedded, single-process server. */
export class MemoryPresence implements PresenceTracker {
  private readonly users = new Map<string, Entry>();
  private readonly listeners: PresenceListener[] = [];
  private dirty = new Map<string, number>();
  private readonly devices = new LocalDevices();
  private readonly timer: NodeJS.Timeout;

  /** @param timeoutMs offline after this long without a heartbeat from any device (default 30 s). */
  constructor(private readonly timeoutMs = 30_000) {
    this.timer = setInterval(() => this.sweep(), Math.max(25, Math.min(1000, timeoutMs / 4))).unref();
  }

  private emit(userId: string, e: Entry): void {
    const state: PresenceState = { online: e.online, lastActiveAt: e.lastBeat };
    for (const l of this.listeners) l(userId, state);
  }

  connected(userId: string, connectionId: string): void {
    const now = Date.now();
    let e = this.users.get(userId);
    if (!e) this.users.set(userId, (e = { connections: new Set(), lastBeat: now, online: false }));
    e.connections.add(connectionId);
    e.lastBeat = now;
    this.dirty.set(userId, now);
    if (!e.online) {
      e.online = true;
      this.emit(userId, e);
    }
  }

  heartbeat(userId: string): void {
    const e = this.users.get(userId);
    if (!e) return;
    const now = Date.now();
    e.lastBeat = now;
    this.dirty.set(userId, now);
  }

  disconnected(userId: string, connectionId: string, clean: boolean): void {
    const e = this.users.get(userId);
    if (!e || !e.connections.delete(connectionId)) return;
    if (e.connections.size === 0 && clean && e.online) {
      e.online = false;
      this.emit(userId, e);
    }
  }

  private sweep(): void {
    const deadline = Date.now() - this.timeoutMs;
    for (const [userId, e] of this.users) {
      if (e.connections.size > 0 || e.lastBeat > deadline) continue;
      if (e.online) {
        e.online = false;
        this.emit(userId, e);
      } else if (e.lastBeat < deadline - FORGET_AFTER_MS && !this.dirty.has(userId)) {
        // Long offline and persisted: the store answers for them from now on.
        this.users.delete(userId);
      }
    }
  }

  deviceConnected(deviceId: string, connectionId: string): void {
    this.devices.connected(deviceId, connectionId);
  }

  deviceActive(deviceId: string): void {
    this.devices.active(deviceId);
  }

  deviceForeground(deviceId: string, connectionId: string, foreground: boolean): void {
    this.devices.foreground(deviceId, connectionId, foreground);
  }

  deviceDisconnected(deviceId: string, connectionId: string): void {
    this.devices.disconnected(deviceId, connectionId);
  }

  async deviceActivity(deviceIds: readonly string[]): Promise<Map<string, DeviceUse>> {
    const out = new Map<string, DeviceUse>();
    for (const id of deviceIds) {
      const use = this.devices.get(id);
      if (use !== undefined) out.set(id, use);
    }
    return out;
  }

  async states(userIds: readonly string[]): Promise<Map<string, PresenceState>> {
    const out = new Map<string, PresenceState>();
    for (const id of userIds) {
      const e = this.users.get(id);
      if (e) out.set(id, { online: e.online, lastActiveAt: e.lastBeat });
    }
    return out;
  }

  onChange(listener: PresenceListener): void {
    this.listeners.push(listener);
  }

  takeDirty(): Array<{ userId: string; at: number }> {
    const out = [...this.dirty].map(([userId, at]) => ({ userId, at }));
    this.dirty = new Map();
    return out;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
