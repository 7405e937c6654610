import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import type { Bus, BusCapabilities, BusEvent, BusHandler } from '../bus.js';
import { createLogger } from '../../logger.js';
import { TurnBatch } from '../../turn-batch.js';
import type { Logger } from '../../logger.js';

export interface RedisBusOptions {
  /** Redis URL, e.g. `redis://:secret@redis:6379/0` (`rediss://` for TLS). */
  url: string;
  /** Prepended to every key and channel, so deployments can share one Redis. Default `parley:`. */
  prefix?: string;
  /** This chat server's id (ServerConfig.serverId); appears in channel and connection names. */
  serverId: string;
  /**
   * Liveness lease of this server, ms: renewed every third of it. Routes to a server whose
   * lease lapsed more than a lease ago are ignored and removed by the next publisher that
   * meets them. Default 15000.
   */
  leaseMs?: number;
  /**
   * A user's route key expires when no server refreshes it for this long, ms (the backstop
   * for routes nobody publishes to); servers refresh their users every quarter of it.
   * Default 3600000 (one hour).
   */
  routeTtlMs?: number;
  /** `ready()` rejects when Redis is not reached and subscribed within this, ms. Default 10000. */
  readyTimeoutMs?: number;
  /**
   * Largest pub/sub message, in UTF-16 code units (at most 3 bytes each); larger fan-outs
   * are split. Keeps every message well under Redis's pub/sub client output buffer limits
   * (8 MiB soft / 32 MiB hard by default). Default 262144.
   */
  maxMessageChars?: number;
  /** Events waiting for Redis beyond this many are dropped (the store has them). Default 50000. */
  maxQueuedEvents?: number;
  /** Where warnings go (Redis down, events dropped). Default: a pino logger at level warn. */
  log?: Logger;
  /** Extra ioredis options (TLS, sentinel, timeouts), applied to both connections. */
  redis?: RedisOptions;
}

/** Reconnect delay: full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff and Jitter"). */
function backoff(attempt: number): number {
  return Math.max(20, Math.round(Math.random() * Math.min(5000, 50 * 2 ** attempt)));
}

/** Drop old entries of the server list after this long (their routes are long gone by then). */
const NODE_RETENTION_MS = 24 * 3600 * 1000;
/** Users kept for a later `recheck` when events are dropped; past it, every server rechecks all. */
const MAX_LOST_USERS = 100_000;
/** Commands per pipeline when (re)registering or refreshing many users. */
const CHUNK = 1000;
/** At most one warning per kind per this many ms (Redis down would otherwise log per event). */
const WARN_EVERY_MS = 10_000;

type Pipeline = ReturnType<Redis['pipeline']>;

/**
 * Route lookup: the fields (nodes) of every route key given, as one reply per key. One
 * command for a whole flush instead of one HKEYS per user: the client-side cost of a command
 * (encoding, reply parsing, a promise) is what a busy chat server spends on routing.
 */
const ROUTES_LUA = `local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HKEYS', key) end
return out`;
/** Route keys per lookup call: bounds how long one script holds Redis. */
const ROUTES_CHUNK = 1000;

/** Events that go to the servers holding some users' connections. */
function isToUsers(e: BusEvent): e is Extract<BusEvent, { type: 'deliver' | 'recheck' }> {
  return e.type === 'deliver' || e.type === 'recheck';
}

type RoutesRedis = Redis & { parleyRoutes(numKeys: number, ...keys: string[]): Promise<string[][]> };

/**
 * The cluster bus: chat servers exchange events through Redis pub/sub, and each `deliver`
 * goes only to the servers holding connections of its target users.
 *
 * Layout (every name under `prefix`):
 * - `srv:<node>`: one channel per running server. `node` is `<serverId>:<random>`, fresh
 *   for every process, so a restarted server never inherits its predecessor's routes.
 * - `all`: the broadcast channel (`revoke`).
 * - `route:<userId>`: hash whose fields are the nodes where the user has connections, set by
 *   `attach` (first local connection of the user) and removed by `detach` (last one).
 * - `nodes`: sorted set of nodes scored by lease expiry (ms). A crashed server stops
 *   renewing; its route fields are then skipped and deleted lazily by publishers.
 *
 * Publishing looks up the target users' routes (one script call, one round trip, for every event of
 * an event-loop turn), then sends one message per server carrying, per event, only that
 * server's users plus the frame (escaped once per event, shared by every server). Users
 * attached to this server are delivered in-process at once, without Redis.
 *
 * Redis is a hint and the store the truth: `publish` never throws, and while Redis is
 * unreachable remote deliveries are dropped. Their users are kept, and once a flush works
 * again they get a `recheck` (their connections re-read the store); a subscriber that
 * reconnects rechecks all its connections (`resync`). ioredis reconnects by itself; on
 * reconnect this server registers its routes again (Redis may have restarted empty) and
 * ioredis re-subscribes its channels.
 */
export class RedisBus implements Bus {
  readonly capabilities: BusCapabilities = { routed: true };
  /** This process's node id: `<serverId>:<random>`. */
  readonly node: string;
  private readonly prefix: string;
  private readonly leaseMs: number;
  private readonly routeTtlMs: number;
  private readonly maxMessageChars: number;
  private readonly maxQueuedEvents: number;
  private readonly log: Logger;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly channel: string;
  private readonly allChannel: string;
  private readonly handlers = new Set<BusHandler>();
  /** Users with at least one connection here (attach minus detach). */
  private readonly attached = new Set<string>();
  /** Route registrations of users attached at about the same time, one pipeline per batch. */
  private readonly attaches = new TurnBatch<string, void>((userIds) => this.attachAll(userIds));
  /** Lease expiry per node, from the last heartbeat. */
  private leases = new Map<string, number>();
  private queue: BusEvent[] = [];
  /** Events published so far, and how many of them have left (sent or dropped). */
  private published = 0;
  private done = 0;
  /** `flushed()` callers, each waiting for `done` to reach its count. */
  private waiters: { upTo: number; resolve: () => void }[] = [];
  /** Users of dropped deliveries, told to recheck by the next flush that works. */
  private lost = new Set<string>();
  /** Too many users were lost to list: the next flush that works rechecks every server. */
  private lostAll = false;
  private flushScheduled = false;
  private flushing: Promise<void> | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly lastWarn = new Map<string, number>();
  private closed = false;
  private readonly started: Promise<void>;
  private readonly readyTimeoutMs: number;

  constructor(opts: RedisBusOptions) {
    this.prefix = opts.prefix ?? 'parley:';
    this.node = `${opts.serverId}:${randomBytes(4).toString('hex')}`;
    this.leaseMs = opts.leaseMs ?? 15_000;
    this.routeTtlMs = opts.routeTtlMs ?? 3_600_000;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;
    this.maxMessageChars = opts.maxMessageChars ?? 256 * 1024;
    this.maxQueuedEvents = opts.maxQueuedEvents ?? 50_000;
    this.log = opts.log ?? createLogger('warn');
    this.channel = `${this.prefix}srv:${this.node}`;
    this.allChannel = `${this.prefix}all`;

    // Commands and publishes: never queued while disconnected (a stale queue would only
    // grow; the store has every event) and never resent after a reconnect.
    this.pub = new Redis(opts.url, {
      ...opts.redis,
      connectionName: `parley:${this.node}:pub`,
      retryStrategy: backoff,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      autoResendUnfulfilledCommands: false,
      // A black-holed connection fails commands instead of holding publishes (and close) forever.
      commandTimeout: opts.redis?.commandTimeout ?? 5000,
    });
    // Subscriber: its SUBSCRIBE waits for the first connection; ioredis re-subscribes after
    // every reconnect (autoResubscribe).
    this.sub = new Redis(opts.url, {
      ...opts.redis,
      connectionName: `parley:${this.node}:sub`,
      retryStrategy: backoff,
      maxRetriesPerRequest: null,
      autoResubscribe: true,
    });
    // EVALSHA, falling back to EVAL when Redis does not have the script (yet, or any more).
    this.pub.defineCommand('parleyRoutes', { lua: ROUTES_LUA });
    this.pub.on('error', (err) => this.warn('redis', 'Redis command connection error', err));
    this.sub.on('error', (err) => this.warn('redis', 'Redis subscriber connection error', err));
    this.sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));

    let registered!: () => void;
    const firstRegistration = new Promise<void>((resolve) => (registered = resolve));
    let pubReadies = 0;
    this.pub.on('ready', () => {
      const again = pubReadies++ > 0;
      this.register().then(
        () => {
          registered();
          // Events published while we were away are lost: live connections re-read the store.
          if (again) this.emit({ type: 'resync' });
          // And so are the remote deliveries we dropped meanwhile: tell their users now.
          if (this.lost.size > 0 || this.lostAll) this.schedule();
        },
        (err: unknown) => this.warn('register', 'could not register routes in Redis', err),
      );
    });
    let subReadies = 0;
    this.sub.on('ready', () => {
      if (subReadies++ > 0) this.emit({ type: 'resync' });
    });
    const subscribed = this.sub.subscribe(this.channel, this.allChannel);
    this.started = Promise.all([firstRegistration, subscribed]).then(() => undefined);
    this.started.catch(() => {}); // reported through ready()

    const heartbeat = setInterval(() => void this.heartbeat(), Math.max(100, this.leaseMs / 3));
    const refresh = setInterval(() => void this.refreshRoutes(), Math.max(1000, this.routeTtlMs / 4));
    heartbeat.unref();
    refresh.unref();
    this.timers.push(heartbeat, refresh);
  }

  /**
   * Resolves once connected, registered and subscribed; rejects after `readyTimeoutMs`
   * (the bus keeps retrying in the background either way).
   */
  ready(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis bus not ready after ${this.readyTimeoutMs} ms`)),
        this.readyTimeoutMs,
      );
    });
    return Promise.race([this.started, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * The user's first connection on this server opened: route their events here. Resolves
   * once Redis has the route (or failed to take it: the route is registered again on
   * reconnect), so a caller that waits before reading the store misses nothing published
   * after that read.
   */
  async attach(userId: string): Promise<void> {
    if (this.closed) return;
    this.attached.add(userId);
    if (this.pub.status !== 'ready') return;
    await this.attaches.get(userId);
  }

  /**
   * The routes of users attached meanwhile, in one pipeline (a reconnect storm attaches
   * thousands). A user detached before the pipeline leaves gets no route: their `detach`
   * already went out, and a route written after it would outlive them.
   */
  private async attachAll(userIds: string[]): Promise<void> {
    const p = this.pub.pipeline();
    for (const u of userIds) {
      if (!this.attached.has(u)) continue;
      const key = this.routeKey(u);
      p.hset(key, this.node, '1').pexpire(key, this.routeTtlMs);
    }
    if (p.length > 0) await this.exec(p, 'attach', 'could not register a route in Redis');
  }

  /** The user's last connection on this server closed: stop routing their events here. */
  async detach(userId: string): Promise<void> {
    if (!this.attached.delete(userId) || this.pub.status !== 'ready') return;
    await this.exec(
      this.pub.pipeline().hdel(this.routeKey(userId), this.node),
      'detach',
      'could not remove a route from Redis',
    );
  }

  publish(event: BusEvent): void {
    if (this.closed) return;
    try {
      if (event.type === 'resync') return this.emit(event); // local only
      this.deliverLocally(event);
      if (isToUsers(event) && event.userIds.length === 0) return;
      if (this.pub.status !== 'ready') {
        this.warn('drop', 'Redis unavailable: remote deliveries dropped (their users recheck later)');
        this.dropped([event]);
        return;
      }
      if (this.queue.length >= this.maxQueuedEvents) {
        this.warn('drop', 'Redis too slow: remote deliveries dropped (their users recheck later)');
        this.dropped([event]);
        return;
      }
      this.published++;
      this.queue.push(event);
      this.schedule();
    } catch (err) {
      this.warn('publish', 'bus publish failed', err);
    }
  }

  flushed(): Promise<void> {
    if (this.done >= this.published) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ upTo: this.published, resolve }));
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Every publish of this turn (a committed batch fans out in one loop) shares a flush.
    queueMicrotask(() => this.kick());
  }

  /** Remember whom dropped events were for: a later flush tells them to read the store. */
  private dropped(events: readonly BusEvent[]): void {
    for (const e of events) {
      if (e.type !== 'deliver' && e.type !== 'recheck') continue;
      for (const u of e.userIds) {
        if (this.lostAll) return;
        this.lost.add(u);
        if (this.lost.size > MAX_LOST_USERS) {
          this.lost.clear();
          this.lostAll = true;
        }
      }
    }
  }

  /** `count` more events have left (sent or dropped): wake the `flushed()` callers they cover. */
  private left(count: number): void {
    this.done += count;
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.upTo <= this.done) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  /** Queue the rechecks owed for dropped events (the bus works again). */
  private owedRechecks(): void {
    if (this.lostAll) {
      this.lostAll = false;
      this.published++;
      this.queue.push({ type: 'resync' }); // sent to every server on the broadcast channel
    }
    if (this.lost.size === 0) return;
    const users = [...this.lost];
    this.lost.clear();
    for (let i = 0; i < users.length; i += CHUNK) {
      this.published++;
      this.queue.push({ type: 'recheck', userIds: users.slice(i, i + CHUNK) });
    }
  }

  subscribe(handler: BusHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Remove this server's routes and lease, then disconnect. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.handlers.clear();
    await this.flushing;
    this.left(this.published - this.done);
    if (this.pub.status === 'ready') {
      const users = [...this.attached];
      for (let i = 0; i < users.length; i += CHUNK) {
        const p = this.pub.pipeline();
        for (const u of users.slice(i, i + CHUNK)) p.hdel(this.routeKey(u), this.node);
        await this.exec(p, 'close', 'could not remove routes from Redis');
      }
      await this.exec(this.pub.pipeline().zrem(this.nodesKey, this.node), 'close', 'could not leave Redis');
    }
    this.attached.clear();
    await Promise.all(
      [this.pub, this.sub].map((r) => (r.status === 'ready' ? r.quit().catch(() => {}) : null)),
    );
    this.pub.disconnect();
    this.sub.disconnect();
  }

  // ---- internals ----

  private routeKey(userId: string): string {
    return `${this.prefix}route:${userId}`;
  }
  private get nodesKey(): string {
    return `${this.prefix}nodes`;
  }

  private emit(event: BusEvent): void {
    for (const h of this.handlers) {
      try {
        h(event);
      } catch (err) {
        this.log.error({ err }, 'bus handler failed');
      }
    }
  }

  private deliverLocally(event: BusEvent): void {
    if (this.handlers.size === 0) return;
    if (!isToUsers(event)) return this.emit(event);
    const idx: number[] = [];
    event.userIds.forEach((u, i) => {
      if (this.attached.has(u)) idx.push(i);
    });
    if (idx.length === 0) return;
    if (idx.length === event.userIds.length) return this.emit(event);
    if (event.type === 'recheck') {
      return this.emit({ type: 'recheck', userIds: idx.map((i) => event.userIds[i] as string) });
    }
    const { prev } = event;
    this.emit(
      prev === undefined
        ? { ...event, userIds: idx.map((i) => event.userIds[i] as string) }
        : {
            ...event,
            userIds: idx.map((i) => event.userIds[i] as string),
            prev: idx.map((i) => prev[i] ?? 0),
          },
    );
  }

  private onMessage(channel: string, message: string): void {
    if (this.closed) return;
    try {
      if (channel === this.allChannel) {
        const m = JSON.parse(message) as { o: string; d?: string[]; r?: true };
        // Our own revokes were delivered here when published; our own connections lost nothing.
        if (m.o === this.node) return;
        if (m.r) this.emit({ type: 'resync' });
        else if (m.d) this.emit({ type: 'revoke', deviceIds: m.d });
        return;
      }
      if (channel !== this.channel) return;
      // Passed on as routed: a route that outlives a connection by a moment names a user
      // the chat server no longer holds, and the chat server skips users it does not hold.
      for (const [userIds, pos, frame, prev] of JSON.parse(message) as [
        string[],
        number | null | undefined,
        string,
        number[] | undefined,
      ][]) {
        if (pos === undefined) this.emit({ type: 'recheck', userIds });
        else if (pos === null) this.emit({ type: 'deliver', userIds, frame });
        else if (prev === undefined) this.emit({ type: 'deliver', userIds, frame, pos });
        else this.emit({ type: 'deliver', userIds, frame, pos, prev });
      }
    } catch (err) {
      this.warn('message', 'malformed bus message ignored', err);
    }
  }

  private kick(): void {
    this.flushScheduled = false;
    // One flush at a time keeps this server's events in publish order on every channel.
    if (this.flushing) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = null;
      if (this.queue.length > 0) this.kick(); // queued after the loop's last look
    });
  }

  private async flushLoop(): Promise<void> {
    if (this.pub.status === 'ready') this.owedRechecks();
    while (this.queue.length > 0) {
      const events = this.queue;
      this.queue = [];
      try {
        if (!(await this.send(events))) this.dropped(events);
      } catch (err) {
        this.warn(
          'drop',
          `bus publish failed: ${events.length} events dropped (their users recheck later)`,
          err,
        );
        this.dropped(events);
      }
      this.left(events.length);
    }
  }

  /** Send a flush's events; false when Redis did not take them. */
  private async send(events: BusEvent[]): Promise<boolean> {
    // 1. Where is everyone? One script call per ROUTES_CHUNK distinct users.
    const users = new Set<string>();
    for (const e of events) if (isToUsers(e)) for (const u of e.userIds) users.add(u);
    const list = [...users];
    const nodesOf = new Map<string, string[]>();
    const stale: [string, string][] = [];
    if (list.length > 0) {
      const pub = this.pub as RoutesRedis;
      const calls: Promise<string[][]>[] = [];
      for (let i = 0; i < list.length; i += ROUTES_CHUNK) {
        const keys = list.slice(i, i + ROUTES_CHUNK).map((u) => this.routeKey(u));
        calls.push(pub.parleyRoutes(keys.length, ...keys));
      }
      const replies = (await Promise.all(calls)).flat();
      const deadBefore = Date.now() - this.leaseMs;
      list.forEach((u, i) => {
        const nodes = replies[i];
        if (!nodes) throw new Error('route lookup: no reply for a user');
        const live: string[] = [];
        for (const n of nodes) {
          if (n === this.node) continue; // delivered locally at publish
          const lease = this.leases.get(n);
          // Unknown nodes count as alive: they may have started since our last heartbeat.
          if (lease !== undefined && lease < deadBefore) stale.push([u, n]);
          else live.push(n);
        }
        if (live.length > 0) nodesOf.set(u, live);
      });
    }

    // 2. One message per server (split when large), each event carrying that server's users.
    const parts = new Map<string, string[]>();
    const out = this.pub.pipeline();
    for (const e of events) {
      if (e.type === 'resync') {
        out.publish(this.allChannel, JSON.stringify({ o: this.node, r: true }));
        continue;
      }
      if (e.type === 'revoke') {
        out.publish(this.allChannel, JSON.stringify({ o: this.node, d: e.deviceIds }));
        continue;
      }
      const byNode = new Map<string, number[]>();
      e.userIds.forEach((u, i) => {
        for (const n of nodesOf.get(u) ?? []) {
          const us = byNode.get(n);
          if (us) us.push(i);
          else byNode.set(n, [i]);
        }
      });
      if (byNode.size === 0) continue;
      if (e.type === 'recheck') {
        for (const [n, idx] of byNode) {
          const part = `[${JSON.stringify(idx.map((i) => e.userIds[i]))}]`;
          const list = parts.get(n);
          if (list) list.push(part);
          else parts.set(n, [part]);
        }
        continue;
      }
      const frame = JSON.stringify(e.frame); // escaped once, shared by every server
      const pos = e.pos ?? 'null';
      for (const [n, idx] of byNode) {
        const list = parts.get(n);
        const us = JSON.stringify(idx.map((i) => e.userIds[i]));
        const prev = e.prev === undefined ? '' : `,${JSON.stringify(idx.map((i) => e.prev?.[i] ?? 0))}`;
        const part = `[${us},${pos},${frame}${prev}]`;
        if (list) list.push(part);
        else parts.set(n, [part]);
      }
    }
    for (const [n, list] of parts) {
      const channel = `${this.prefix}srv:${n}`;
      let chunk: string[] = [];
      let size = 0;
      for (const part of list) {
        if (chunk.length > 0 && size + part.length > this.maxMessageChars) {
          out.publish(channel, `[${chunk.join(',')}]`);
          chunk = [];
          size = 0;
        }
        chunk.push(part);
        size += part.length + 1;
      }
      if (chunk.length > 0) out.publish(channel, `[${chunk.join(',')}]`);
    }
    for (const [u, n] of stale) out.hdel(this.routeKey(u), n);
    if (out.length === 0) return true;
    return (await this.exec(out, 'drop', 'bus publish failed (their users recheck later)')) !== null;
  }

  /** (Re)register after every connect: our lease, then every locally attached user's route. */
  private async register(): Promise<void> {
    await this.heartbeat();
    const users = [...this.attached];
    for (let i = 0; i < users.length; i += CHUNK) {
      const p = this.pub.pipeline();
      for (const u of users.slice(i, i + CHUNK)) {
        const key = this.routeKey(u);
        p.hset(key, this.node, '1').pexpire(key, this.routeTtlMs);
      }
      await this.exec(p, 'register', 'could not register routes in Redis');
    }
  }

  /** Renew our lease, prune long-gone servers, and take a fresh snapshot of everyone's lease. */
  private async heartbeat(): Promise<void> {
    if (this.closed || this.pub.status !== 'ready') return;
    if (this.lost.size > 0 || this.lostAll) this.schedule();
    const now = Date.now();
    const replies = await this.exec(
      this.pub
        .pipeline()
        .zadd(this.nodesKey, now + this.leaseMs, this.node)
        .zremrangebyscore(this.nodesKey, '-inf', now - NODE_RETENTION_MS)
        .zrange(this.nodesKey, '0', '-1', 'WITHSCORES'),
      'heartbeat',
      'could not renew the bus lease in Redis',
    );
    const flat = replies?.[2]?.[1];
    if (!Array.isArray(flat)) return;
    const leases = new Map<string, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) leases.set(String(flat[i]), Number(flat[i + 1]));
    this.leases = leases;
  }

  /** Keep route keys of long-lived connections from expiring (see routeTtlMs). */
  private async refreshRoutes(): Promise<void> {
    if (this.closed || this.pub.status !== 'ready') return;
    const users = [...this.attached];
    for (let i = 0; i < users.length; i += CHUNK) {
      const p = this.pub.pipeline();
      for (const u of users.slice(i, i + CHUNK)) p.pexpire(this.routeKey(u), this.routeTtlMs);
      await this.exec(p, 'refresh', 'could not refresh routes in Redis');
    }
  }

  /** Run a pipeline; report (never throw) a failure. Returns the replies, or null on failure. */
  private async exec(
    p: Pipeline,
    kind: string,
    message: string,
  ): Promise<[error: Error | null, result: unknown][] | null> {
    try {
      const replies = await p.exec();
      const failed = replies?.find(([err]) => err)?.[0];
      if (failed) this.warn(kind, message, failed);
      return replies;
    } catch (err) {
      this.warn(kind, message, err);
      return null;
    }
  }

  private warn(kind: string, message: string, err?: unknown): void {
    if (this.closed && kind === 'redis') return;
    const now = Date.now();
    if (now - (this.lastWarn.get(kind) ?? 0) < WARN_EVERY_MS) return;
    this.lastWarn.set(kind, now);
    this.log.warn({ err, node: this.node }, message);
  }
}
