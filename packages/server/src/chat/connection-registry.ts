import type { Bus } from '../bus/bus.js';
import type { Metrics } from '../metrics.js';
import type { Connection } from './connection.js';

/**
 * The open connections of this chat server, by user and by device. The first connection of
 * a user asks the bus to route that user's events here; the last one lets it go.
 */
export class ConnectionRegistry {
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly byDevice = new Map<string, Set<Connection>>();
  /** Users whose events the bus is being told to route here (first connection opening). */
  private readonly attaching = new Map<string, Promise<void>>();

  constructor(
    private readonly bus: Bus,
    private readonly metrics: Metrics,
  ) {}

  get size(): number {
    let n = 0;
    for (const set of this.byDevice.values()) n += set.size;
    return n;
  }

  userCount(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  deviceCount(deviceId: string): number {
    return this.byDevice.get(deviceId)?.size ?? 0;
  }

  ofUser(userId: string): ReadonlySet<Connection> | undefined {
    return this.byUser.get(userId);
  }

  ofDevice(deviceId: string): Iterable<Connection> {
    return this.byDevice.get(deviceId) ?? [];
  }

  deviceIds(): string[] {
    return [...this.byDevice.keys()];
  }

  *all(): IterableIterator<Connection> {
    for (const set of this.byDevice.values()) yield* set;
  }

  /** Add a connection; resolves once the bus routes its user's events here. */
  add(conn: Connection): Promise<void> {
    const { userId, deviceId } = conn.ctx;
    let u = this.byUser.get(userId);
    let routed: Promise<void>;
    if (!u) {
      this.byUser.set(userId, (u = new Set()));
      routed = this.attach(userId);
    } else routed = this.attaching.get(userId) ?? Promise.resolve();
    u.add(conn);
    let d = this.byDevice.get(deviceId);
    if (!d) this.byDevice.set(deviceId, (d = new Set()));
    d.add(conn);
    this.metrics.connections.inc();
    return routed;
  }

  /** Remove a connection; true when it was its device's last one here. */
  remove(conn: Connection): boolean {
    const { userId, deviceId } = conn.ctx;
    const u = this.byUser.get(userId);
    if (u?.delete(conn) && u.size === 0) {
      this.byUser.delete(userId);
      void this.bus.detach?.(userId);
    }
    const d = this.byDevice.get(deviceId);
    if (!d?.delete(conn)) return false;
    this.metrics.connections.dec();
    if (d.size > 0) return false;
    this.byDevice.delete(deviceId);
    return true;
  }

  private attach(userId: string): Promise<void> {
    const pending = this.attaching.get(userId);
    if (pending) return pending;
    if (!this.bus.attach) return Promise.resolve();
    const p = this.bus.attach(userId).finally(() => this.attaching.delete(userId));
    this.attaching.set(userId, p);
    return p;
  }
}
