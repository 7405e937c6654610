/**
 * The server's own Prometheus counters (GET /metrics), read at both edges of the measured
 * window: how many group commits it made, how big they were, and how much of the window the
 * store transaction took. Absent (null) when the target has no /metrics (the relay).
 */
import { request } from 'node:http';
import type { ServerHandle } from './processes.js';
import { round } from './result.js';

export type MetricValues = Map<string, number>;

/** Fetch and parse un-labelled samples of /metrics; null on any failure. */
export function scrapeMetrics(baseUrl: string): Promise<MetricValues | null> {
  return new Promise((resolve) => {
    const req = request(`${baseUrl}/metrics`, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return resolve(null);
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const out: MetricValues = new Map();
        for (const line of text.split('\n')) {
          const m = /^([a-z_]+) ([0-9.e+-]+)$/i.exec(line);
          if (m?.[1] && m[2]) out.set(m[1], Number(m[2]));
        }
        resolve(out);
      });
      res.on('error', () => resolve(null));
    });
    req.on('error', () => resolve(null));
    req.setTimeout(5000, () => req.destroy());
    req.end();
  });
}

/**
 * The counters of every server that writes messages, summed: the embedded server, or a
 * cluster's chat servers (each serves /metrics on its own port).
 */
export async function scrapeServers(server: ServerHandle): Promise<MetricValues | null> {
  const urls =
    server.kind === 'cluster'
      ? server.wsUrls.map((u) => u.replace(/^ws/, 'http').replace(/\/v1\/ws$/, ''))
      : [server.url];
  const all = await Promise.all(urls.map(scrapeMetrics));
  if (all.some((m) => m === null)) return null;
  const out: MetricValues = new Map();
  for (const m of all as MetricValues[]) for (const [k, v] of m) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

/** Store figures over a window from two scrapes `seconds` apart. */
export function storeFigures(
  a: MetricValues | null,
  b: MetricValues | null,
  seconds: number,
): Record<string, number | null> {
  const d = (name: string): number | null => {
    const x = a?.get(name);
    const y = b?.get(name);
    return x === undefined || y === undefined ? null : y - x;
  };
  const commits = d('parley_store_write_seconds_count');
  // Time with at least one batch at the store (several may be in flight); older servers: the sum.
  const storeS = d('parley_store_append_busy_seconds_total') ?? d('parley_store_write_seconds_sum');
  const batched = d('parley_store_batch_size_sum');
  const batches = d('parley_store_batch_size_count');
  return {
    store_commits_per_s: commits === null ? null : round(commits / seconds),
    store_batch_avg: batched === null || !batches ? null : round(batched / batches),
    store_busy_pct: storeS === null ? null : round((storeS / seconds) * 100),
  };
}
