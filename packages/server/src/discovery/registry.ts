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

/** Pick the least loaded healthy server, preferring the client's region; ties at random. */
export function pickServer(servers: readonly ChatServerInfo[], region?: string): ChatServerInfo {
  if (servers.length === 0) throw new ParleyError('unavailable', 'No chat server is available');
  const local = region ? servers.filter((s) => s.region === region) : [];
  const pool = local.length > 0 ? local : servers;
  const min = Math.min(...pool.map((s) => s.load));
  const best = pool.filter((s) => s.load <= min * 1.05 + 1);
  return best[Math.floor(Math.random() * best.length)] as ChatServerInfo;
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

/** Chat servers in a Redis hash; entries older than `staleMs` are ignored and pruned. */
export class RedisRegistry implements Registry {
  private readonly key: string;
  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly log: Logger,
    /** A server that has not heartbeated for this long leaves discovery, ms. Default 6000. */
    private readonly staleMs = 6000,
  ) {
    this.key = `${prefix}servers`;
  }

  async heartbeat(info: ChatServerInfo): Promise<void> {
    await this.redis.hset(this.key, info.id, JSON.stringify(info));
  }

  async remove(id: string): Promise<void> {
    await this.redis.hdel(this.key, id);
  }

  async list(): Promise<ChatServerInfo[]> {
    let all: Record<string, string>;
    try {
      all = await this.redis.hgetall(this.key);
    } catch (err) {
      this.log.warn({ err }, 'discovery: Redis unavailable');
      throw new ParleyError('unavailable', 'Discovery is temporarily unavailable');
    }
    const now = Date.now();
    const out: ChatServerInfo[] = [];
    const stale: string[] = [];
    for (const [id, raw] of Object.entries(all)) {
      try {
        const info = JSON.parse(raw) as ChatServerInfo;
        if (now - info.updatedAt <= this.staleMs) out.push(info);
        else stale.push(id);
      } catch {
        stale.push(id);
      }
    }
    // Long-dead entries are pruned lazily (a live server re-adds itself on its next beat).
    const dead = stale.filter((id) => {
      const info = all[id];
      try {
        return now - (JSON.parse(info ?? '{}') as ChatServerInfo).updatedAt > 10 * this.staleMs;
      } catch {
        return true;
      }
    });
    if (dead.length > 0) this.redis.hdel(this.key, ...dead).catch(() => undefined);
    return out;
  }
}
