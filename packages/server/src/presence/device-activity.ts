/**
 * Device activity: whether a device is in active use (a person has its app in front and used
 * it lately), which decides whether it gets push notifications. Each server keeps the state
 * of the devices connected to it here; the trackers (memory/, redis/) share it.
 */

/** What is known of one connected device. */
export interface DeviceUse {
  /** Last time a person used the device (connected, sent, read, typed, reported activity). */
  activeAt: number;
  /** Some connection of the device has its app in the foreground. */
  foreground: boolean;
}

/**
 * The one rule: a device is in active use when its app is in the foreground and was used
 * within `idleMs`. A device not connected (`undefined`) is not.
 */
export function inActiveUse(use: DeviceUse | undefined, now: number, idleMs: number): boolean {
  return use !== undefined && use.foreground && now - use.activeAt < idleMs;
}

/** `activeAt` and `foreground` as one string (a Redis hash value): `<ms>` or `<ms>:bg`. */
export function encodeDeviceUse(use: DeviceUse): string {
  return use.foreground ? String(use.activeAt) : `${use.activeAt}:bg`;
}

export function decodeDeviceUse(value: string | null | undefined): DeviceUse | undefined {
  if (value === null || value === undefined) return undefined;
  const [at, flag] = value.split(':');
  const activeAt = Number(at);
  if (!Number.isFinite(activeAt)) return undefined;
  return { activeAt, foreground: flag !== 'bg' };
}

interface LocalDevice {
  activeAt: number;
  connections: Set<string>;
  /** Connections whose app said it is in the background; a connection that never said is in front. */
  background: Set<string>;
}

/** The devices connected to this server, by connection. */
export class LocalDevices {
  private readonly devices = new Map<string, LocalDevice>();

  /** A connection of the device opened: a person opened the app. */
  connected(deviceId: string, connectionId: string, now = Date.now()): DeviceUse {
    let d = this.devices.get(deviceId);
    if (!d)
      this.devices.set(deviceId, (d = { activeAt: now, connections: new Set(), background: new Set() }));
    d.connections.add(connectionId);
    d.activeAt = now;
    return this.use(d);
  }

  /** A person used the device; undefined when it has no connection here. */
  active(deviceId: string, now = Date.now()): DeviceUse | undefined {
    const d = this.devices.get(deviceId);
    if (!d) return undefined;
    d.activeAt = now;
    return this.use(d);
  }

  /**
   * A connection's app went to the foreground (which is a use) or to the background;
   * undefined when the connection is not known here.
   */
  foreground(
    deviceId: string,
    connectionId: string,
    foreground: boolean,
    now = Date.now(),
  ): DeviceUse | undefined {
    const d = this.devices.get(deviceId);
    if (!d?.connections.has(connectionId)) return undefined;
    if (foreground) {
      d.background.delete(connectionId);
      d.activeAt = now;
    } else d.background.add(connectionId);
    return this.use(d);
  }

  /** A connection closed; what remains of the device, undefined when it was its last here. */
  disconnected(deviceId: string, connectionId: string): DeviceUse | undefined {
    const d = this.devices.get(deviceId);
    if (!d) return undefined;
    d.connections.delete(connectionId);
    d.background.delete(connectionId);
    if (d.connections.size === 0) {
      this.devices.delete(deviceId);
      return undefined;
    }
    return this.use(d);
  }

  get(deviceId: string): DeviceUse | undefined {
    const d = this.devices.get(deviceId);
    return d && this.use(d);
  }

  has(deviceId: string): boolean {
    return this.devices.has(deviceId);
  }

  private use(d: LocalDevice): DeviceUse {
    return { activeAt: d.activeAt, foreground: d.connections.size > d.background.size };
  }
}
