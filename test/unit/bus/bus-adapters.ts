/**
 * The bus adapters the bus conformance suite loops over (one suite for every adapter,
 * selected by PARLEY_BUSES, e.g. PARLEY_BUSES=redis). Each adapter opens a
 * "cluster": `server()` gives the bus one more chat server would use, all sharing one
 * namespace that `cleanup()` removes.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { MemoryBus, RedisBus } from '@parley/server';
import type { Bus, BusCapabilities, BusEvent } from '@parley/server';
import {
  REDIS_URL,
  dropRedisPrefix,
  redisAvailable,
  redisKeys,
  testRedisPrefix,
} from '../../helpers/services.js';

/** A bus as a chat server uses it; `attach`/`detach` exist on routed adapters. */
export type ServerBus = Bus & {
  ready?(): Promise<void>;
  attach?(userId: string): Promise<void>;
  detach?(userId: string): Promise<void>;
};

export interface BusCluster {
  /** The bus of one more chat server (ready to use). */
  server(): Promise<ServerBus>;
  /** Cut a server's connections to the bus service and wipe its data (a Redis restart); null when there is no service. */
  interrupt: ((bus: ServerBus) => Promise<void>) | null;
  /** A bus whose service cannot be reached; null when there is no service. */
  unreachable: (() => Promise<ServerBus>) | null;
  /** What is left in the service's namespace (keys), for checking that close cleans up. */
  leftovers(): Promise<string[]>;
  cleanup(): Promise<void>;
}

export interface BusAdapter {
  name: string;
  capabilities: BusCapabilities;
  /** Runs on a separate service that can be interrupted or unreachable (selects those tests). */
  service: boolean;
  /** Why the adapter cannot run here (services missing), or null. */
  unavailable(): Promise<string | null>;
  open(): Promise<BusCluster>;
}

const quiet = pino({ level: 'silent' });

export const BUS_ADAPTERS: BusAdapter[] = [
  {
    name: 'memory',
    // One process: every event reaches every subscriber.
    capabilities: { routed: false },
    service: false,
    unavailable: async () => null,
    async open() {
      const shared = new MemoryBus();
      return {
        // Every "server" is a view of the one process's bus; closing a view drops only its
        // own subscriptions.
        async server() {
          const offs = new Set<() => void>();
          let closed = false;
          return {
            capabilities: shared.capabilities,
            publish: (e) => {
              if (!closed) shared.publish(e);
            },
            flushed: () => shared.flushed(),
            subscribe(handler) {
              const off = shared.subscribe(handler);
              offs.add(off);
              return () => {
                offs.delete(off);
                off();
              };
            },
            async close() {
              closed = true;
              for (const off of offs) off();
              offs.clear();
            },
          };
        },
        interrupt: null,
        unreachable: null,
        leftovers: async () => [],
        cleanup: () => shared.close(),
      };
    },
  },
  {
    name: 'redis',
    capabilities: { routed: true },
    service: true,
    unavailable: redisAvailable,
    async open() {
      const prefix = testRedisPrefix();
      const buses: RedisBus[] = [];
      let n = 0;
      const open = async (url: string, readyTimeoutMs = 5000) => {
        const bus = new RedisBus({
          url,
          prefix,
          serverId: `s${n++}`,
          log: quiet,
          readyTimeoutMs,
          leaseMs: 3000,
        });
        buses.push(bus);
        return bus;
      };
      return {
        async server() {
          const bus = await open(REDIS_URL);
          await bus.ready();
          return bus;
        },
        async interrupt(bus) {
          const admin = new Redis(REDIS_URL);
          try {
            for (const key of await redisKeys(prefix)) await admin.del(key);
            const clients = (await admin.client('LIST')) as string;
            const node = (bus as RedisBus).node;
            for (const line of clients.split('\n')) {
              const id = /\bid=(\d+)/.exec(line)?.[1];
              if (id && line.includes(` name=parley:${node}:`)) await admin.client('KILL', 'ID', id);
            }
          } finally {
            admin.disconnect();
          }
        },
        // Nothing listens on port 1.
        unreachable: () => open('redis://127.0.0.1:1', 200),
        leftovers: () => redisKeys(prefix),
        async cleanup() {
          await Promise.all(buses.map((b) => b.close()));
          await dropRedisPrefix(prefix);
        },
      };
    },
  },
];

export function selectedBusAdapters(): BusAdapter[] {
  const want = process.env.PARLEY_BUSES?.split(',').map((s) => s.trim());
  return want ? BUS_ADAPTERS.filter((a) => want.includes(a.name)) : BUS_ADAPTERS;
}

/** Every event a bus hands to one subscriber, with a way to wait for more. */
export function collect(bus: Bus) {
  const events: BusEvent[] = [];
  const waiters = new Set<() => void>();
  bus.subscribe((e) => {
    events.push(e);
    for (const w of waiters) w();
  });
  return {
    events,
    /** Resolves once `pred` holds (checked now and after every event); rejects after `ms`. */
    until(pred: (events: BusEvent[]) => boolean, ms = 5000): Promise<void> {
      if (pred(events)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${ms} ms; got ${JSON.stringify(events)}`));
        }, ms);
        const check = () => {
          if (!pred(events)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
  };
}
