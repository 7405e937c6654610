/**
 * `sync`: N clients connect and sync, go offline, `--missed` M messages arrive for each
 * (from sender users over direct conversations), then all N reconnect at once with `since`
 * = the last cursor they saw. catchup_s runs from the first reconnect to the last client
 * that has `synced` with all M messages.
 */
import { now, toMonotonicUs } from '../clock.js';
import { Histogram } from '../histogram.js';
import { HttpApi, mapLimit, runPrefix, seedAccounts } from '../http-api.js';
import type { Account } from '../http-api.js';
import { MACHINE, ProcSampler, listenOverflows } from '../proc-stats.js';
import type { BenchResult } from '../result.js';
import { round } from '../result.js';
import type { SyncClientSpec, SyncReport } from '../worker/sync-job.js';
import { WorkerPool, localAddressFor, roundRobin } from '../worker/pool.js';
import type { RunContext } from './common.js';
import { clientCpuPct, connectionWorkers, otherCpuPct, ourPids, serverFigures } from './common.js';
import { blast } from './seed-messages.js';
import type { BlastJob } from './seed-messages.js';

export async function runSync(ctx: RunContext): Promise<BenchResult> {
  const { opts, server } = ctx;
  const n = opts.clients ?? 1000;
  const m = Math.max(1, opts.missed);
  const senders = Math.max(1, Math.min(100, Math.ceil(n / 100)));
  const api = new HttpApi(ctx.server.url);
  let receivers: SyncClientSpec[];
  const jobs: BlastJob[] = [];
  try {
    const t0 = Date.now();
    const prefix = runPrefix();
    const sending = await seedAccounts(api, `${prefix}s`, senders);
    const accounts = await seedAccounts(api, prefix, n);
    receivers = await mapLimit(accounts, 64, async (a, i) => {
      const s = sending[i % senders] as Account;
      const conv = await api.direct(s.token, a.username);
      return { token: a.token, conversationId: conv.id };
    });
    for (let k = 0; k < senders; k++) {
      jobs.push({
        token: (sending[k] as Account).token,
        conversationIds: receivers.filter((_, i) => i % senders === k).map((r) => r.conversationId),
        perConv: m,
      });
    }
    ctx.log(`seeded ${n} clients and ${senders} senders in ${(Date.now() - t0) / 1000} s`);
  } finally {
    api.close();
  }
  const workers = connectionWorkers(ctx, n);
  const parts = roundRobin(receivers, workers);
  const pool = WorkerPool.start(workers);
  try {
    const connected = await pool.all<{ failed: number; error?: string }>('sync.connect', (w) => ({
      // A cluster's chat servers take the workers in turn.
      url: server.wsUrls[w % server.wsUrls.length] as string,
      localAddress: localAddressFor(server.url, w, opts.sourceAddresses ?? 0),
      clients: parts[w],
      connectConcurrency: Math.max(1, Math.floor(opts.connectConcurrency / workers)),
    }));
    const failedFirst = connected.reduce((k, c) => k + c.failed, 0);
    if (failedFirst > 0)
      throw new Error(`${failedFirst} clients failed to connect: ${connected.find((c) => c.error)?.error}`);
    await pool.all('sync.disconnect');
    ctx.log(`${n} clients offline; sending ${m} messages to each`);
    const seeded = await blast(server.wsUrls[0] as string, jobs, {
      window: 64,
      textChars: opts.textChars,
      log: ctx.log,
    });
    ctx.log(`sent ${seeded.sent} messages in ${round(seeded.seconds)} s; reconnecting all ${n} clients`);

    const ours = ourPids(server, pool.pids);
    const pids = [MACHINE, process.pid, ...ours];
    const sampler = new ProcSampler(pids, 100);
    const overflowsBefore = listenOverflows();
    const startAt = now() + 500;
    const reports = await pool.all<SyncReport>('sync.reconnect', () => ({
      startAt,
      expected: m,
      timeoutMs: 120_000,
    }));
    for (const pid of pids) sampler.mark(pid);
    sampler.stop();
    const overflowsAfter = listenOverflows();
    await pool.all('sync.close');
    const firstStart = Math.min(...reports.map((r) => r.firstStart));
    const lastDone = Math.max(...reports.map((r) => r.lastDone));
    const catchup = (lastDone - firstStart) / 1000;
    const latency = new Histogram();
    const errors: Record<string, number> = {};
    for (const r of reports) {
      latency.merge(r.catchupLatency);
      for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    }
    const q = (x: number): number | null => {
      const v = latency.quantileMs(x);
      return v === null ? null : round(v);
    };
    const received = reports.reduce((k, r) => k + r.received, 0);
    return {
      scenario: 'sync',
      clients: n,
      missed: m,
      duration_s: round(catchup),
      catchup_s: round(catchup),
      offered_per_s: round(seeded.sent / seeded.seconds),
      delivered_per_s: round(received / catchup),
      p50_ms: q(0.5),
      p95_ms: q(0.95),
      p99_ms: q(0.99),
      max_ms: latency.maxMs() === null ? null : round(latency.maxMs() as number),
      lost: reports.reduce((k, r) => k + r.lost, 0),
      duplicated: reports.reduce((k, r) => k + r.duplicated, 0),
      failed: reports.reduce((k, r) => k + r.failed, 0),
      caught_up: reports.reduce((k, r) => k + r.caughtUp, 0),
      received,
      senders,
      seed_s: round(seeded.seconds),
      ...serverFigures(sampler, server, firstStart, lastDone),
      client_cpu_pct: clientCpuPct(sampler, [process.pid, ...pool.pids], firstStart, lastDone),
      other_cpu_pct: otherCpuPct(sampler, ours, firstStart, lastDone),
      workers,
      profile_window_us: [toMonotonicUs(firstStart), toMonotonicUs(lastDone)],
      connect_concurrency: opts.connectConcurrency,
      listen_overflows:
        overflowsBefore === null || overflowsAfter === null ? null : overflowsAfter - overflowsBefore,
      errors,
    };
  } finally {
    await pool.close();
  }
}
