/** Resident memory of a process (the server child) from /proc/<pid>/status, sampled over time. */
import { readFileSync } from 'node:fs';

/** VmRSS of `pid` in bytes, or null once the process is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Samples a process's RSS every `everyMs` until stopped; keeps the highest. */
export class RssSampler {
  peak = 0;
  samples = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly pid: number,
    everyMs = 100,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }
  sample(): number {
    const rss = rssBytes(this.pid) ?? 0;
    this.samples++;
    if (rss > this.peak) this.peak = rss;
    return rss;
  }
  stop(): number {
    clearInterval(this.timer);
    return this.sample();
  }
}
