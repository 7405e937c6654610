/**
 * Service discovery: chat servers announce their public address
 * and load; API servers recommend the best one to each client. In one process the registry
 * is this server itself; in cluster mode it lives in Redis.
 */
import type { Redis } from 'ioredis';
import { ParleyError } from '@parley/protocol';
import type { Logger } from '../logger.js';

export interface ChatServerInfo {
  id: string;
  /** WebSocket URL clients connect to, e.g. wss://chat-3.example.com/v1/ws. */
  url: string;
  region: string;
  /** Open connections. */
  load: number;
  /** Last heartbeat, ms since the epoch. */
  updatedAt: number;
}

export interface Registry {
  /** Announce (or refresh) this chat server. */
  heartbeat(info: ChatServerInfo): Promise<void>;
  /** Leave discovery at once (graceful shutdown). */
  remove(id: string): Promise<void>;
  /** Healthy chat servers: those that heartbeated within the staleness bound. */
  list(): Promise<ChatServerInfo[]>;
}

/** How long an answer of this discovery instance counts toward a server's load, ms. */
export const ASSIGNMENT_WINDOW_MS = 2000;

/**
 * Chooses a chat server for each client. A server's load is its last reported connection count
 * plus the clients this instance sent it within `windowMs`: reports lag by a heartbeat and a
 * connect, and without its own recent answers every client that asks in that gap would be sent
 * to the same least-loaded server. Then power of two choices: the less loaded of two servers
 * picked at random, so several discovery instances acting on the same reports still spread
 * their clients instead of all picking one minimum.
 */
export class Balancer {
  /** Times of recent answers per server id, oldest first. */
  private readonly recent = new Map<string, number[]>();
  constructor(
    private readonly windowMs = ASSIGNMENT_WINDOW_MS,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /** Pick a healthy server, preferring the client's region, and count the answer. */
  pick(servers: readonly ChatServerInfo[], region?: string): ChatServerInfo {
    if (servers.length === 0) throw new ParleyError('unavailable', 'No chat server is available');
    const local = region ? servers.filter((s) => s.region === region) : [];
    const pool = local.length > 0 ? local : servers;
    const now = this.now();
    this.prune(now);
    let best = pool[Math.floor(this.random() * pool.length)] as ChatServerInfo;
    if (pool.length > 1) {
      let j = Math.floor(this.random() * (pool.length - 1));
      if (j >= pool.indexOf(best)) j++;
      const other = pool[j] as ChatServerInfo;
      const a = this.loadOf(best);
      const b = this.loadOf(other);
      if (b < a || (b === a && this.random() < 0.5)) best = other;
    }
    const times = this.recent.get(best.id);
    if (times) times.push(now);
    else this.recent.set(best.id, [now]);
    return best;
  }

  /** Reported load plus this instance's answers within the window. */
  loadOf(server: ChatServerInfo): number {
    return server.load + (this.recent.get(server.id)?.length ?? 0);
  }

  private prune(now: number): void {
    for (const [id, times] of this.recent) {
      let k = 0;
      while (k < times.length && (times[k] as number) <= now - this.windowMs) k++;
      if (k === times.length) this.recent.delete(id);
      else if (k > 0) times.splice(0, k);
    }
  }
}

/** The embedded server is its own and only chat server. */
export class LocalRegistry implements Registry {
  private self: ChatServerInfo | null = null;
  async heartbeat(info: ChatServerInfo): Promise<void> {
    this.self = info;
  }
  async remove(): Promise<void> {
    this.self = null;
  }
  async list(): Promise<ChatServerInfo[]> {
    return this.self ? [this.self] : [];
  }
}

/**
 * Chat servers in Redis, one key per server that expires `staleMs` after its last heartbeat
 * (Redis's clock decides, so clock skew between machines does not matter), and a set of their
 * ids. A server that stops beating leaves discovery within `staleMs`.
 */
export class RedisRegistry implements Registry {
  private readonly ids: string;
  private readonly keyPrefix: string;
  /** The hash API servers of the previous release read: kept for rolling upgrades. */
  private readonly legacy: string;
  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly log: Logger,
    /** A server that has not heartbeated for this long leaves discovery, ms. Default 1000. */
    private readonly staleMs = 1000,
  ) {
    this.ids = `${prefix}chat:ids`;
    this.keyPrefix = `${prefix}chat:server:`;
    this.legacy = `${prefix}servers`;
  }

  async heartbeat(info: ChatServerInfo): Promise<void> {
    const json = JSON.stringify(info);
    await this.redis
      .multi()
      .set(this.keyPrefix + info.id, json, 'PX', Math.max(1, Math.round(this.staleMs)))
      .sadd(this.ids, info.id)
      .hset(this.legacy, info.id, json)
      .exec();
  }

  async remove(id: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.keyPrefix + id)
      .srem(this.ids, id)
      .hdel(this.legacy, id)
      .exec();
  }

  async list(): Promise<ChatServerInfo[]> {
    let ids: string[];
    let values: Array<string | null>;
    try {
      ids = await this.redis.smembers(this.ids);
      values = ids.length > 0 ? await this.redis.mget(ids.map((id) => this.keyPrefix + id)) : [];
    } catch (err) {
      this.log.warn({ err }, 'discovery: Redis unavailable');
      throw new ParleyError('unavailable', 'Discovery is temporarily unavailable');
    }
    const out: ChatServerInfo[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const raw = values[i];
      if (!raw) {
        gone.push(id);
        return;
      }
      try {
        out.push(JSON.parse(raw) as ChatServerInfo);
      } catch {
        gone.push(id);
      }
    });
    // Expired servers leave the set lazily; a live one adds itself back on its next beat.
    if (gone.length > 0) {
      this.redis
        .multi()
        .srem(this.ids, ...gone)
        .hdel(this.legacy, ...gone)
        .exec()
        .catch(() => undefined);
    }
    return out;
  }
}
