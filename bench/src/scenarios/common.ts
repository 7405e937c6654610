/** What every scenario shares: the run context, server sampling, and the message-load phase. */
import { monotonicUs, now, sleepUntil } from '../clock.js';
import { Histogram } from '../histogram.js';
import type { BenchOptions } from '../options.js';
import { MACHINE, ProcSampler, windowStats } from '../proc-stats.js';
import type { ServerHandle } from '../processes.js';
import { servicePids } from '../cluster.js';
import { round } from '../result.js';
import type { BenchFigures } from '../result.js';
import type { LoadClientSpec, LoadConvSpec, LoadReport, LoadTask, LoadTiming } from '../worker/load-job.js';
import { WorkerPool, localAddressFor } from '../worker/pool.js';
import { scrapeServers, storeFigures } from '../server-metrics.js';

export interface RunContext {
  opts: BenchOptions;
  server: ServerHandle;
  /** Progress line on stderr. */
  log: (msg: string) => void;
}

/** One conversation of the workload and the member devices that take part in it. */
export interface ConvPlan {
  id: string;
  members: { userId: string; token: string; sends: boolean }[];
}

export interface LoadPhaseParams {
  convs: ConvPlan[];
  workers: number;
  /** Offered messages/s in total; 0 = window-bound. */
  rate: number;
  window: number;
  warmupS: number;
  durationS: number;
  /** Something else to run during the measured window (history page reads); its fields join the result. */
  during?: (timing: LoadTiming) => Promise<Record<string, unknown>>;
  /** Processes of ours besides the load workers (the history page reader): client CPU, not "other". */
  extraPids?: number[];
}

type Stats = NonNullable<ReturnType<typeof windowStats>>;

/**
 * windowStats summed over the processes of the system under test (one embedded server, or a
 * cluster's API and chat servers); null when none was sampled (`--target`).
 */
export function serverStats(
  sampler: ProcSampler,
  server: ServerHandle,
  from: number,
  to: number,
): Stats | null {
  const all = server.pids
    .map((pid) => windowStats(sampler.samples.get(pid) ?? [], from, to))
    .filter((s): s is Stats => s !== null);
  if (all.length === 0) return null;
  const sum = (f: (s: Stats) => number | null): number | null =>
    all.some((s) => f(s) === null) ? null : all.reduce((n, s) => n + (f(s) as number), 0);
  return {
    cpuPct: sum((s) => s.cpuPct) as number,
    peakRss: sum((s) => s.peakRss) as number,
    medianRss: sum((s) => s.medianRss) as number,
    lastRss: sum((s) => s.lastRss) as number,
    syscwPerSec: sum((s) => s.syscwPerSec),
    diskWritePerSec: sum((s) => s.diskWritePerSec),
    // The event loop of the busiest process.
    mainCpuPct: all.every((s) => s.mainCpuPct === null)
      ? null
      : Math.max(...all.map((s) => s.mainCpuPct ?? 0)),
  };
}

/**
 * Worker processes for `n` connections held open (idle, sync): at most `perWorker` sockets
 * each (one process may open 20,000 files here), at least `least`, and at least one per chat
 * server, since each worker's clients go to one of them.
 */
export function connectionWorkers(ctx: RunContext, n: number, perWorker = 9000, least = 2): number {
  return ctx.opts.workers ?? Math.max(least, Math.ceil(n / perWorker), ctx.server.wsUrls.length);
}

/** The processes the sampler must watch for a run: the server(s), the workers, the services. */
export function ourPids(server: ServerHandle, workerPids: number[]): number[] {
  // PostgreSQL starts a backend per pooled connection, and pools open them as load arrives.
  if (server.kind === 'cluster') server.servicePids = servicePids();
  return [...server.pids, ...workerPids, ...server.servicePids];
}

/** Figures of the server (summed over a cluster's processes) over the measured window. */
export function serverFigures(
  sampler: ProcSampler,
  server: ServerHandle,
  from: number,
  to: number,
): {
  server_rss_mb: number | null;
  server_cpu_pct: number | null;
  server_main_thread_cpu_pct?: number | null;
  server_write_calls_per_s?: number | null;
  server_disk_write_mb_per_s?: number | null;
  services_cpu_pct?: number;
  server_processes?: number;
} {
  const s = serverStats(sampler, server, from, to);
  if (!s) return { server_rss_mb: null, server_cpu_pct: null };
  return {
    server_rss_mb: round(s.peakRss / 2 ** 20),
    server_cpu_pct: round(s.cpuPct),
    server_main_thread_cpu_pct: s.mainCpuPct === null ? null : round(s.mainCpuPct),
    server_write_calls_per_s: s.syscwPerSec === null ? null : round(s.syscwPerSec),
    server_disk_write_mb_per_s: s.diskWritePerSec === null ? null : round(s.diskWritePerSec / 2 ** 20),
    ...(server.kind === 'cluster'
      ? {
          // PostgreSQL and Redis, which a cluster adds to the machine's load.
          services_cpu_pct: clientCpuPct(sampler, server.servicePids, from, to),
          server_processes: server.pids.length,
        }
      : {}),
  };
}

/** Sum of the CPU% of several processes (the load generators) over the window. */
export function clientCpuPct(sampler: ProcSampler, pids: number[], from: number, to: number): number {
  let total = 0;
  for (const pid of pids) total += windowStats(sampler.samples.get(pid) ?? [], from, to)?.cpuPct ?? 0;
  return round(total);
}

/**
 * CPU% of everything else on the machine during the window (other users' jobs on a shared
 * machine): machine busy time minus the server's and the load generators'. 200% = 2 cores.
 */
export function otherCpuPct(sampler: ProcSampler, ours: number[], from: number, to: number): number | null {
  const machine = windowStats(sampler.samples.get(MACHINE) ?? [], from, to);
  if (!machine) return null;
  // The coordinator (this process) is ours too: its CPU is not "other".
  const self = windowStats(sampler.samples.get(process.pid) ?? [], from, to)?.cpuPct ?? 0;
  return round(Math.max(0, machine.cpuPct - clientCpuPct(sampler, ours, from, to) - self));
}

/** Take exact /proc readings of `pids` at `at` (timers, so the edges of the window are sharp). */
export function markAt(sampler: ProcSampler, pids: number[], at: number): Promise<number> {
  return sleepUntil(at).then(() => {
    for (const pid of pids) sampler.mark(pid);
    return monotonicUs();
  });
}

function addErrors(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/**
 * Run a message workload: conversations go whole to workers (round-robin), each worker
 * connects its clients and syncs, then all send from one start time; the coordinator samples
 * the server and the workers over the window, and merges what the workers measured.
 */
export async function runLoadPhase(ctx: RunContext, p: LoadPhaseParams): Promise<BenchFigures> {
  const { opts, server } = ctx;
  const workers = Math.max(1, Math.min(p.workers, p.convs.length));
  const parts: ConvPlan[][] = Array.from({ length: workers }, () => []);
  p.convs.forEach((c, i) => (parts[i % workers] as ConvPlan[]).push(c));
  const totalSenders = p.convs.reduce((n, c) => n + c.members.filter((m) => m.sends).length, 0);
  const tasks: LoadTask[] = parts.map((convs, w) => {
    const clients: LoadClientSpec[] = [];
    const specs: LoadConvSpec[] = convs.map((c, ci) => ({
      id: c.id,
      members: c.members.map((m) => {
        clients.push({ userId: m.userId, token: m.token, conv: ci, sends: m.sends });
        return clients.length - 1;
      }),
    }));
    const senders = clients.filter((c) => c.sends).length;
    return {
      urls: server.wsUrls,
      localAddress: localAddressFor(server.url, w, opts.sourceAddresses ?? 0),
      clients,
      convs: specs,
      ratePerSec: p.rate === 0 ? 0 : (p.rate * senders) / Math.max(1, totalSenders),
      window: p.window,
      textChars: opts.textChars,
      connectConcurrency: Math.max(1, Math.floor(opts.connectConcurrency / workers)),
    };
  });
  const clients = tasks.reduce((n, t) => n + t.clients.length, 0);
  const pool = WorkerPool.start(workers);
  try {
    ctx.log(`connecting ${clients} clients from ${workers} worker processes`);
    const connected = await pool.all<{ connected: number; failed: number; error?: string }>(
      'load.connect',
      (w) => tasks[w],
    );
    const failed = connected.reduce((n, c) => n + c.failed, 0);
    if (failed > 0) {
      throw new Error(
        `${failed} of ${clients} clients failed to connect: ${connected.find((c) => c.error)?.error}`,
      );
    }
    const clientPids = [...pool.pids, ...(p.extraPids ?? [])];
    const ours = ourPids(server, clientPids);
    const pids = [MACHINE, process.pid, ...ours];
    const sampler = new ProcSampler(pids);
    const startAt = now() + 300;
    const timing: LoadTiming = {
      startAt,
      measureFrom: startAt + p.warmupS * 1000,
      measureTo: startAt + (p.warmupS + p.durationS) * 1000,
      rampMs: Math.min(opts.ramp, p.warmupS) * 1000,
      drainMs: opts.drain * 1000,
    };
    ctx.log(
      `running ${p.rate === 0 ? `max rate (window ${p.window})` : `${p.rate} msgs/s`} for ` +
        `${p.warmupS} s warmup + ${p.durationS} s`,
    );
    const edges = Promise.all([
      markAt(sampler, pids, timing.measureFrom),
      markAt(sampler, pids, timing.measureTo),
    ]);
    const scrapes = Promise.all([
      sleepUntil(timing.measureFrom).then(() => scrapeServers(server)),
      sleepUntil(timing.measureTo).then(() => scrapeServers(server)),
    ]);
    const extra = p.during ? p.during(timing) : Promise.resolve({});
    const reports = await pool.all<LoadReport>('load.run', () => timing);
    const [fromUs, toUs] = await edges;
    const [metricsFrom, metricsTo] = await scrapes;
    const extraFields = await extra;
    sampler.stop();
    await pool.all('load.close');

    const latency = new Histogram();
    const ack = new Histogram();
    const errors: Record<string, number> = {};
    const sum = (k: keyof LoadReport): number => reports.reduce((n, r) => n + (r[k] as number), 0);
    for (const r of reports) {
      latency.merge(r.latency);
      ack.merge(r.ackLatency);
      addErrors(errors, r.errors);
    }
    const d = p.durationS;
    return {
      clients,
      duration_s: d,
      rate: p.rate,
      window: p.window,
      workers,
      offered_per_s: round(sum('sentInWindow') / d),
      delivered_per_s: round(sum('deliveredInWindow') / d),
      acked_per_s: round(sum('ackedInWindow') / d),
      echo_per_s: round(sum('echoInWindow') / d),
      p50_ms: latency.quantileMs(0.5),
      p95_ms: latency.quantileMs(0.95),
      p99_ms: latency.quantileMs(0.99),
      max_ms: latency.maxMs(),
      ack_p50_ms: ack.quantileMs(0.5),
      ack_p99_ms: ack.quantileMs(0.99),
      lost: sum('lost'),
      duplicated: sum('duplicated'),
      unacked: sum('unacked'),
      skipped: sum('skipped'),
      closed: sum('closed'),
      errors,
      ...serverFigures(sampler, server, timing.measureFrom, timing.measureTo),
      client_cpu_pct: clientCpuPct(
        sampler,
        [process.pid, ...clientPids],
        timing.measureFrom,
        timing.measureTo,
      ),
      other_cpu_pct: otherCpuPct(sampler, ours, timing.measureFrom, timing.measureTo),
      ...(metricsFrom ? storeFigures(metricsFrom, metricsTo, p.durationS) : {}),
      drain_s: round(Math.max(...reports.map((r) => r.drainedMs)) / 1000),
      // Where in the run the tail is: the slowest message sent in each half second (warmup first).
      max_ms_by_half_second: maxByIndex(reports.map((r) => r.maxByHalfSecond)).map((v) => Math.round(v)),
      ack_max_ms_by_half_second: maxByIndex(reports.map((r) => r.ackMaxByHalfSecond)).map((v) =>
        Math.round(v),
      ),
      profile_window_us: [fromUs, toUs],
      ...extraFields,
    };
  } finally {
    await pool.close();
  }
}

/** Element-wise maximum of arrays of different lengths. */
function maxByIndex(arrays: readonly number[][]): number[] {
  const out: number[] = [];
  for (const a of arrays) a.forEach((v, i) => (out[i] = Math.max(out[i] ?? 0, v)));
  return out;
}

/** Round the latency fields of a result for JSON and display. */
export function roundLatencies<T extends Record<string, unknown>>(r: T): T {
  const out: Record<string, unknown> = { ...r };
  for (const [k, v] of Object.entries(out)) if (k.endsWith('_ms') && typeof v === 'number') out[k] = round(v);
  return out as T;
}
