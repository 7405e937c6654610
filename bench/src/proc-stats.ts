/**
 * CPU time and resident memory of a process, read from /proc (Linux). CPU% over a window is
 * the CPU time (user + system) used during the window / the window's wall time × 100, so one
 * busy core is 100%.
 */
import { readFileSync } from 'node:fs';
import { now, sleep } from './clock.js';

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on Linux). */
const CLK_TCK = 100;

export interface ProcSample {
  /** `now()` when read. */
  t: number;
  /** user + system CPU time, ms. */
  cpuMs: number;
  /** The same for the main thread alone (the event loop), when readable. */
  mainCpuMs?: number;
  /** Resident set size, bytes. */
  rss: number;
  /** Bytes written by write-like syscalls (sockets and files) and their count, from /proc/<pid>/io. */
  wchar?: number;
  syscw?: number;
  /** Bytes this process caused to be written to storage. */
  writeBytes?: number;
}

function readIo(pid: number): { wchar: number; syscw: number; writeBytes: number } | null {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const get = (k: string): number => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(io)?.[1] ?? 0);
    return { wchar: get('wchar'), syscw: get('syscw'), writeBytes: get('write_bytes') };
  } catch {
    return null;
  }
}

function readThreadCpuMs(pid: number, tid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Pass as a pid to read the whole machine: CPU time busy on all cores (not idle or iowait). */
export const MACHINE = 0;

function readMachine(): ProcSample | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { t: now(), cpuMs: ((total - idle) * 1000) / CLK_TCK, rss: 0 };
  } catch {
    return null;
  }
}

/**
 * One reading of a process's CPU time and RSS (or of the machine, for `MACHINE`); null when
 * the process is gone or /proc is absent.
 */
export function readProc(pid: number): ProcSample | null {
  if (pid === MACHINE) return readMachine();
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces), from field 3 (state) on.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    const io = readIo(pid);
    const main = readThreadCpuMs(pid, pid);
    return {
      ...(main === null ? {} : { mainCpuMs: main }),
      t: now(),
      cpuMs: ((utime + stime) * 1000) / CLK_TCK,
      rss: m ? Number(m[1]) * 1024 : 0,
      ...(io ?? {}),
    };
  } catch {
    return null;
  }
}

/** CPU% between two samples of one process. */
export function cpuPct(a: ProcSample, b: ProcSample): number {
  const wall = b.t - a.t;
  return wall > 0 ? ((b.cpuMs - a.cpuMs) / wall) * 100 : 0;
}

/**
 * Samples a set of processes every `intervalMs` so peak RSS is seen, and takes exact
 * readings at the edges of the measured window with `mark()`.
 */
export class ProcSampler {
  private readonly timer: NodeJS.Timeout;
  readonly samples = new Map<number, ProcSample[]>();

  constructor(
    private readonly pids: number[],
    intervalMs = 250,
  ) {
    this.timer = setInterval(() => this.sampleAll(), intervalMs);
    this.timer.unref();
    this.sampleAll();
  }

  private sampleAll(): void {
    for (const pid of this.pids) this.mark(pid);
  }

  /** Read one process now and keep the sample. */
  mark(pid: number): ProcSample | null {
    const s = readProc(pid);
    if (s) {
      let list = this.samples.get(pid);
      if (!list) this.samples.set(pid, (list = []));
      list.push(s);
    }
    return s;
  }

  /** Samples of `pid` taken in [from, to] (inclusive). */
  between(pid: number, from: number, to: number): ProcSample[] {
    return (this.samples.get(pid) ?? []).filter((s) => s.t >= from && s.t <= to);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * CPU% and peak/median RSS of a process over [from, to], from samples that bracket the window
 * (the first sample at or before `from` and the first at or after `to`).
 */
export function windowStats(
  samples: readonly ProcSample[],
  from: number,
  to: number,
): {
  cpuPct: number;
  peakRss: number;
  medianRss: number;
  lastRss: number;
  /** Write syscalls per second and bytes written to storage per second, when /proc/<pid>/io is readable. */
  syscwPerSec: number | null;
  diskWritePerSec: number | null;
  /** CPU% of the main thread alone. */
  mainCpuPct: number | null;
} | null {
  if (samples.length < 2) return null;
  let a = samples[0] as ProcSample;
  for (const s of samples) if (s.t <= from) a = s;
  let b = samples[samples.length - 1] as ProcSample;
  for (let i = samples.length - 1; i >= 0; i--) {
    const s = samples[i] as ProcSample;
    if (s.t >= to) b = s;
  }
  const inside = samples.filter((s) => s.t >= a.t && s.t <= b.t).map((s) => s.rss);
  const sorted = [...inside].sort((x, y) => x - y);
  const secs = (b.t - a.t) / 1000;
  const rate = (x: number | undefined, y: number | undefined): number | null =>
    x === undefined || y === undefined || secs <= 0 ? null : (y - x) / secs;
  const main = rate(a.mainCpuMs, b.mainCpuMs);
  return {
    mainCpuPct: main === null ? null : main / 10,
    syscwPerSec: rate(a.syscw, b.syscw),
    diskWritePerSec: rate(a.writeBytes, b.writeBytes),
    cpuPct: cpuPct(a, b),
    peakRss: sorted[sorted.length - 1] ?? 0,
    medianRss: sorted[Math.floor(sorted.length / 2)] ?? 0,
    lastRss: b.rss,
  };
}

/**
 * System-wide count of connections dropped because a listen queue was full
 * (TcpExt ListenOverflows in /proc/net/netstat): the client then retries its SYN after 1 s,
 * 3 s, 7 s..., which shows up as multi-second connect times. Null when unreadable.
 */
export function listenOverflows(): number | null {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    for (let i = 0; i + 1 < lines.length; i++) {
      const names = lines[i] as string;
      const values = lines[i + 1] as string;
      if (!names.startsWith('TcpExt:') || !values.startsWith('TcpExt:')) continue;
      const k = names.split(/\s+/).indexOf('ListenOverflows');
      if (k > 0) return Number(values.split(/\s+/)[k]);
    }
    return null;
  } catch {
    return null;
  }
}

/** Wait until the machine's busy CPU stays at or below `pct` for 3 s (at most `maxMs`, default 10 minutes). */
export async function waitQuiet(pct: number, log: (msg: string) => void, maxMs = 600_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let quietSince: number | null = null;
  let prev = readProc(MACHINE);
  let told = false;
  while (Date.now() < deadline) {
    await sleep(500);
    const cur = readProc(MACHINE);
    if (!prev || !cur) return;
    const busy = cpuPct(prev, cur);
    prev = cur;
    if (busy <= pct) {
      quietSince ??= Date.now();
      if (Date.now() - quietSince >= 3000) return;
    } else {
      quietSince = null;
      if (!told) log(`waiting for the machine to be quiet (busy ${Math.round(busy)}% > ${pct}%)`);
      told = true;
    }
  }
  log(`machine still busy after ${Math.round(maxMs / 1000)} s; going on anyway`);
}
