import type { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import { TurnBatch } from '../../turn-batch.js';
import { LocalDevices, decodeDeviceUse, encodeDeviceUse } from '../device-activity.js';
import type { DeviceUse } from '../device-activity.js';
import type { PresenceListener, PresenceState, PresenceTracker } from '../presence.js';

export interface RedisPresenceOptions {
  /** A command connection (shared with the registry). */
  redis: Redis;
  /** Key prefix, e.g. `parley:`. */
  prefix: string;
  /** This process's node id (unique per process). */
  node: string;
  /** Offline after this long without a heartbeat from any device on any server, ms. Default 30000. */
  timeoutMs?: number;
  /**
   * A user's heartbeats are written to Redis at most this often, ms (the latest one of the
   * interval, when it ends). Default a sixth of the timeout, at most 5000; never more than a
   * third of the timeout.
   */
  beatEveryMs?: number;
  log: Logger;
}

/**
 * Presence across chat servers, in Redis:
 * - `pres:online` (set): users online now;
 * - `pres:alive` (sorted set): online users scored by their last heartbeat anywhere;
 * - `pres:last` (sorted set): last heartbeat of every user seen (last seen);
 * - `pres:nodes:<user>` (hash): servers where the user has connections;
 * - `pres:devices` (hash): use of each connected device, `<last activity>` or
 *   `<last activity>:bg` when its app is in the background (device-activity.ts; for pushes).
 * A user connected to two servers is online once (SADD answers whether they were new). Every
 * server sweeps `pres:alive` for users silent past the timeout, under a short lock, so users
 * of a crashed server go offline too; whoever changes the state publishes the change.
 */
export class RedisPresence implements PresenceTracker {
  private readonly local = new Map<string, { connections: Set<string>; lastBeat: number }>();
  private readonly listeners: PresenceListener[] = [];
  private dirty = new Map<string, number>();
  private beats = new Map<string, number>();
  /** The devices connected here. */
  private readonly devices = new LocalDevices();
  /** Device uses not yet written to Redis, the latest of each device. */
  private deviceBeats = new Map<string, DeviceUse>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  /** First connections here, recorded in Redis in batches (see recordArrivals). */
  private readonly arrivals = new TurnBatch<string, void>((userIds) => this.recordArrivals(userIds));
  private readonly r: Redis;
  private readonly p: string;
  private readonly timeoutMs: number;
  /** A user's heartbeats reach Redis at most this often (their latest one, when it comes). */
  private readonly beatEveryMs: number;
  /** When each local user's last heartbeat was written to Redis. */
  private readonly beatFlushedAt = new Map<string, number>();

  constructor(private readonly opts: RedisPresenceOptions) {
    this.r = opts.redis;
    this.p = opts.prefix;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const every = Math.max(25, Math.min(1000, this.timeoutMs / 4));
    // A sixth of the timeout (5 s by default): a user who talks all the time costs Redis
    // one write every 5 s, not one a second, and still stays well inside the timeout.
    // At most a third of the timeout, so a held beat never lets the sweep take a user offline.
    this.beatEveryMs =
      opts.beatEveryMs === undefined
        ? Math.min(5000, this.timeoutMs / 6)
        : Math.min(opts.beatEveryMs, this.timeoutMs / 3);
    this.timers.push(setInterval(() => void this.flushBeats(), every).unref());
    this.timers.push(setInterval(() => void this.sweep(), every).unref());
  }

  private emit(userId: string, state: PresenceState): void {
    for (const l of this.listeners) l(userId, state);
  }

  private warn(err: unknown, what: string): void {
    // Work still in flight when the server stops fails as Redis disconnects: not news.
    if (this.closed) return;
    this.opts.log.warn({ err }, `presence: ${what}`);
  }

  connected(userId: string, connectionId: string): void {
    const now = Date.now();
    let e = this.local.get(userId);
    if (!e) this.local.set(userId, (e = { connections: new Set(), lastBeat: now }));
    e.connections.add(connectionId);
    e.lastBeat = now;
    this.dirty.set(userId, now);
    if (e.connections.size > 1) return;
    this.beatFlushedAt.set(userId, now);
    this.arrivals.get(userId).catch((err: unknown) => this.warn(err, 'could not record a connection'));
  }

  /**
   * Users whose first connection here opened at about the same time, recorded in one
   * transaction (a reconnect storm brings thousands); those gone again before it leaves are
   * left out, since their disconnection already went out. SADD answers who came online.
   */
  private async recordArrivals(userIds: string[]): Promise<void> {
    const now = Date.now();
    const here = userIds.filter((u) => this.local.has(u));
    if (here.length === 0) return;
    const tx = this.r.multi();
    for (const u of here) {
      tx.hset(`${this.p}pres:nodes:${u}`, this.opts.node, String(now))
        .zadd(`${this.p}pres:alive`, now, u)
        .zadd(`${this.p}pres:last`, 'GT', now, u)
        .sadd(`${this.p}pres:online`, u);
    }
    const res = await tx.exec();
    here.forEach((u, i) => {
      if (res?.[i * 4 + 3]?.[1] === 1) this.emit(u, { online: true, lastActiveAt: now });
    });
  }

  heartbeat(userId: string): void {
    const e = this.local.get(userId);
    if (!e) return;
    const now = Date.now();
    e.lastBeat = now;
    this.dirty.set(userId, now);
    this.beats.set(userId, now);
  }

  /**
   * Heartbeats reach Redis in one pipeline per interval, not one command each, and a user's
   * at most every `beatEveryMs`: a later beat waits here (the latest one wins) until then.
   */
  private async flushBeats(): Promise<void> {
    if (this.beats.size === 0 && this.deviceBeats.size === 0) return;
    // Only real heartbeats count (as in one process): a connection that stays silent goes
    // offline after the timeout. Users who left since are dropped.
    const now = Date.now();
    const beats: [string, number][] = [];
    for (const [userId, at] of this.beats) {
      if (!this.local.has(userId)) this.beats.delete(userId);
      else if (now - (this.beatFlushedAt.get(userId) ?? 0) >= this.beatEveryMs) {
        beats.push([userId, at]);
        this.beats.delete(userId);
        this.beatFlushedAt.set(userId, now);
      }
    }
    const devices = this.deviceBeats;
    this.deviceBeats = new Map();
    const pipe = this.r.pipeline();
    for (const [userId, at] of beats) {
      // Every beat re-asserts the whole record, so a Redis that restarted empty is rebuilt
      // within one interval.
      pipe.hset(`${this.p}pres:nodes:${userId}`, this.opts.node, String(at));
      pipe.zadd(`${this.p}pres:alive`, 'GT', at, userId);
      pipe.zadd(`${this.p}pres:last`, 'GT', at, userId);
      pipe.sadd(`${this.p}pres:online`, userId);
    }
    if (devices.size > 0) {
      pipe.hset(
        `${this.p}pres:devices`,
        Object.fromEntries([...devices].map(([id, use]) => [id, encodeDeviceUse(use)])),
      );
    }
    try {
      const res = (await pipe.exec()) ?? [];
      beats.forEach(([userId, at], i) => {
        // Back online: the sweep had marked them offline, or Redis had forgotten them.
        if (res[4 * i + 3]?.[1] === 1) this.emit(userId, { online: true, lastActiveAt: at });
      });
    } catch (err) {
      this.warn(err, 'could not record heartbeats');
    }
  }

  disconnected(userId: string, connectionId: string, clean: boolean): void {
    const e = this.local.get(userId);
    if (!e || !e.connections.delete(connectionId) || e.connections.size > 0) return;
    this.local.delete(userId);
    this.beats.delete(userId);
    this.beatFlushedAt.delete(userId);
    const nodesKey = `${this.p}pres:nodes:${userId}`;
    void (async () => {
      try {
        const now = Date.now();
        await this.r
          .multi()
          .hdel(nodesKey, this.opts.node)
          .zadd(`${this.p}pres:last`, 'GT', now, userId)
          .exec();
        // A clean goodbye from the last device anywhere: offline now, no grace period.
        if (!clean || (await this.r.hlen(nodesKey)) > 0) return;
        const res = await this.r
          .multi()
          .srem(`${this.p}pres:online`, userId)
          .zrem(`${this.p}pres:alive`, userId)
          .exec();
        if (res?.[0]?.[1] === 1) this.emit(userId, { online: false, lastActiveAt: now });
      } catch (err) {
        this.warn(err, 'could not record a disconnection');
      }
    })();
  }

  /** Users silent past the timeout everywhere go offline; one server sweeps at a time. */
  private async sweep(): Promise<void> {
    try {
      const lock = await this.r.set(`${this.p}pres:sweep`, this.opts.node, 'PX', 2000, 'NX');
      if (lock !== 'OK') return;
      const deadline = Date.now() - this.timeoutMs;
      const stale = await this.r.zrangebyscore(
        `${this.p}pres:alive`,
        '-inf',
        deadline,
        'WITHSCORES',
        'LIMIT',
        0,
        1000,
      );
      // One transaction for the whole batch (a storm of dropped connections leaves
      // thousands): three commands per user, whose SREM answer says whether we took them
      // offline.
      if (stale.length > 0) {
        const tx = this.r.multi();
        for (let i = 0; i < stale.length; i += 2) {
          const userId = stale[i] as string;
          tx.zrem(`${this.p}pres:alive`, userId)
            .srem(`${this.p}pres:online`, userId)
            .del(`${this.p}pres:nodes:${userId}`);
        }
        const res = await tx.exec();
        for (let i = 0; i < stale.length; i += 2) {
          if (res?.[(i / 2) * 3 + 1]?.[1] === 1) {
            this.emit(stale[i] as string, { online: false, lastActiveAt: Number(stale[i + 1]) });
          }
        }
      }
      await this.r.del(`${this.p}pres:sweep`);
    } catch (err) {
      this.warn(err, 'sweep failed');
    }
  }

  deviceConnected(deviceId: string, connectionId: string): void {
    const before = this.devices.get(deviceId);
    this.recordDevice(deviceId, before, this.devices.connected(deviceId, connectionId));
  }

  deviceActive(deviceId: string): void {
    const before = this.devices.get(deviceId);
    this.recordDevice(deviceId, before, this.devices.active(deviceId));
  }

  deviceForeground(deviceId: string, connectionId: string, foreground: boolean): void {
    const before = this.devices.get(deviceId);
    this.recordDevice(deviceId, before, this.devices.foreground(deviceId, connectionId, foreground));
  }

  deviceDisconnected(deviceId: string, connectionId: string): void {
    if (!this.devices.has(deviceId)) return;
    const before = this.devices.get(deviceId);
    const after = this.devices.disconnected(deviceId, connectionId);
    if (after !== undefined) return this.recordDevice(deviceId, before, after);
    this.deviceBeats.delete(deviceId);
    this.r
      .hdel(`${this.p}pres:devices`, deviceId)
      .catch((err: unknown) => this.warn(err, 'could not record a device leaving'));
  }

  /**
   * Activity reaches Redis with the next heartbeat flush; a device that connects, or goes to the
   * foreground or the background, is written at once, since other servers decide pushes by it
   * (a message sent a moment after the app opened must not be pushed to it).
   */
  private recordDevice(deviceId: string, before: DeviceUse | undefined, after: DeviceUse | undefined): void {
    if (after === undefined) return;
    if (before !== undefined && before.foreground === after.foreground) {
      this.deviceBeats.set(deviceId, after);
      return;
    }
    this.deviceBeats.delete(deviceId);
    this.r
      .hset(`${this.p}pres:devices`, deviceId, encodeDeviceUse(after))
      .catch((err: unknown) => this.warn(err, 'could not record device activity'));
  }

  async deviceActivity(deviceIds: readonly string[]): Promise<Map<string, DeviceUse>> {
    const out = new Map<string, DeviceUse>();
    if (deviceIds.length === 0) return out;
    let values: (string | null)[] = [];
    try {
      values = await this.r.hmget(`${this.p}pres:devices`, ...deviceIds);
    } catch (err) {
      // Redis is a hint: without it only the devices connected here are known (the others
      // count as not in use, so their pushes go out rather than being lost).
      this.warn(err, 'could not read device activity; answering without Redis');
    }
    deviceIds.forEach((id, i) => {
      // A device connected here is known best here.
      const use = this.devices.get(id) ?? decodeDeviceUse(values[i]);
      if (use !== undefined) out.set(id, use);
    });
    return out;
  }

  async states(userIds: readonly string[]): Promise<Map<string, PresenceState>> {
    const out = new Map<string, PresenceState>();
    if (userIds.length === 0) return out;
    // Two commands whatever the number of users (SMISMEMBER and ZMSCORE: Redis 6.2 or later).
    let online: number[];
    let last: (string | null)[];
    try {
      [online, last] = await Promise.all([
        this.r.smismember(`${this.p}pres:online`, ...userIds),
        this.r.zmscore(`${this.p}pres:last`, ...userIds),
      ]);
    } catch (err) {
      // Redis is a hint: while it is away nobody is known here, so callers fall back to the
      // store (last seen from PostgreSQL, offline) and pushes go out rather than being lost.
      this.warn(err, 'could not read states; answering without Redis');
      return out;
    }
    userIds.forEach((id, i) => {
      const on = online[i] === 1;
      const at = last[i];
      if (on || (at !== null && at !== undefined)) {
        out.set(id, { online: on, lastActiveAt: at === null || at === undefined ? null : Number(at) });
      }
    });
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
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
  }
}
