/**
 * `idle`: N authenticated connections that only heartbeat. Measures how fast the server
 * accepts authenticated connections (connects_per_s: first handshake → last `ready`) and
 * what each costs in server memory (bytes_per_conn: RSS growth / N, median over the hold).
 */
import { now, sleep, toMonotonicUs } from '../clock.js';
import { Histogram } from '../histogram.js';
import { HttpApi, runPrefix, seedAccounts } from '../http-api.js';
import { MACHINE, ProcSampler, listenOverflows } from '../proc-stats.js';
import type { BenchResult } from '../result.js';
import { round } from '../result.js';
import type { IdleConnectReport, IdleStats } from '../worker/idle-job.js';
import { WorkerPool, localAddressFor, roundRobin } from '../worker/pool.js';
import type { RunContext } from './common.js';
import {
  clientCpuPct,
  connectionWorkers,
  otherCpuPct,
  ourPids,
  serverFigures,
  serverStats,
} from './common.js';

/** Below Linux's default ephemeral range (32768-60999): no clash with the machine's own connections. */
const FIRST_SOURCE_PORT = 10_000;
/**
 * Sockets per worker process: as few processes as the 20,000 open files of one allow. Each
 * process more costs the generator CPU that the server then lacks (the two share two cores
 * while connecting): `idle --clients 19000 --duration 4`, three alternating rounds with 1 / 3 /
 * 2 workers gave 4,675 / 4,504 / 4,391, 5,444 / 4,533 / 5,059 and 5,312 / 4,613 / 4,843
 * connects/s, the generator using 72-78% of a core with one worker and 85-91% with three.
 */
const SOCKETS_PER_WORKER = 19_000;

/** Devices per seeded user (each connection is its own logged-in device). */
const DEVICES_PER_USER = 10;

export async function runIdle(ctx: RunContext): Promise<BenchResult> {
  const { opts, server } = ctx;
  const n = opts.clients ?? 1000;
  const api = new HttpApi(ctx.server.url);
  let tokens: string[];
  try {
    const t0 = Date.now();
    const users = Math.ceil(n / DEVICES_PER_USER);
    const accounts = await seedAccounts(api, runPrefix(), users, DEVICES_PER_USER);
    tokens = accounts.slice(0, n).map((a) => a.token);
    ctx.log(`seeded ${users} users with ${n} devices in ${(Date.now() - t0) / 1000} s`);
  } finally {
    api.close();
  }
  const workers = connectionWorkers(ctx, n, SOCKETS_PER_WORKER, 1);
  const parts = roundRobin(tokens, workers);
  const pool = WorkerPool.start(workers);
  try {
    const ours = ourPids(server, pool.pids);
    const pids = [MACHINE, process.pid, ...ours];
    const sampler = new ProcSampler(pids, 200);
    // Baseline: the server after seeding, before any WebSocket.
    await sleep(1500);
    const baseFrom = now() - 1000;
    const base = serverStats(sampler, server, baseFrom, now());
    const overflowsBefore = listenOverflows();
    const startAt = now() + 300;
    ctx.log(`opening ${n} idle connections from ${workers} worker processes`);
    // Source addresses and ports of our own: the kernel's port search is O(connections) per
    // connect once the even ephemeral ports are used up (see raw-socket.ts).
    const addresses = opts.sourceAddresses ?? workers;
    const reports = await pool.all<IdleConnectReport>('idle.connect', (w) => {
      // A cluster's chat servers take the workers in turn.
      const url = server.wsUrls[w % server.wsUrls.length] as string;
      return {
        task: {
          url,
          localAddress: localAddressFor(url, w, addresses),
          // Workers sharing an address take separate blocks of ports.
          firstPort: FIRST_SOURCE_PORT + Math.floor(w / Math.max(1, addresses)) * (SOCKETS_PER_WORKER + 1000),
          tokens: parts[w],
          connectConcurrency: Math.max(1, Math.floor(opts.connectConcurrency / workers)),
        },
        startAt,
      };
    });
    const overflowsAfter = listenOverflows();
    const firstStart = Math.min(...reports.map((r) => r.firstStart));
    const lastReady = Math.max(...reports.map((r) => r.lastReady));
    for (const pid of pids) sampler.mark(pid);
    const connected = reports.reduce((k, r) => k + r.connected, 0);
    const failed = reports.reduce((k, r) => k + r.failed, 0);
    const connectFigures = serverFigures(sampler, server, firstStart, lastReady);
    ctx.log(`holding ${connected} connections for ${opts.duration} s`);
    const holdFrom = now();
    await sleep(opts.duration * 1000);
    const holdTo = now();
    for (const pid of pids) sampler.mark(pid);
    const stats = await pool.all<IdleStats>('idle.stats');
    sampler.stop();
    const hold = serverStats(sampler, server, holdFrom, holdTo);
    await pool.all('idle.close');

    const latency = new Histogram();
    const errors: Record<string, number> = {};
    for (const r of reports) {
      latency.merge(r.connectLatency);
      for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    }
    const q = (x: number): number | null => {
      const v = latency.quantileMs(x);
      return v === null ? null : round(v);
    };
    const open = stats.reduce((k, s) => k + s.open, 0);
    return {
      scenario: 'idle',
      clients: n,
      duration_s: opts.duration,
      offered_per_s: 0,
      delivered_per_s: 0,
      p50_ms: q(0.5),
      p95_ms: q(0.95),
      p99_ms: q(0.99),
      max_ms: latency.maxMs() === null ? null : round(latency.maxMs() as number),
      lost: 0,
      duplicated: 0,
      failed: failed + (connected - open),
      connected,
      connects_per_s: round(connected / ((lastReady - firstStart) / 1000)),
      connect_s: round((lastReady - firstStart) / 1000),
      bytes_per_conn:
        base && hold && connected > 0 ? Math.round((hold.medianRss - base.medianRss) / connected) : null,
      server_rss_base_mb: base ? round(base.medianRss / 2 ** 20) : null,
      server_rss_mb: hold ? round(hold.medianRss / 2 ** 20) : null,
      server_cpu_pct: hold ? round(hold.cpuPct) : null,
      server_cpu_connect_pct: connectFigures.server_cpu_pct,
      client_cpu_connect_pct: clientCpuPct(sampler, [process.pid, ...pool.pids], firstStart, lastReady),
      other_cpu_connect_pct: otherCpuPct(sampler, ours, firstStart, lastReady),
      workers,
      connect_concurrency: opts.connectConcurrency,
      listen_overflows:
        overflowsBefore === null || overflowsAfter === null ? null : overflowsAfter - overflowsBefore,
      profile_window_us: [toMonotonicUs(firstStart), toMonotonicUs(lastReady)],
      pings: stats.reduce((k, s) => k + s.pings, 0),
      pongs: stats.reduce((k, s) => k + s.pongs, 0),
      closed_by_server: stats.reduce((k, s) => k + s.closedByServer, 0),
      errors,
    };
  } finally {
    await pool.close();
  }
}
