/**
 * Searches at a fixed rate during a load phase, in a worker process of their own (as history
 * pages are read, see pages-job.ts): a search's latency includes the event loop of the process
 * that measures it, so that process does nothing else.
 */
import { now, sleepUntil } from '../clock.js';
import { Histogram } from '../histogram.js';
import { HttpApi } from '../http-api.js';
import { round } from '../result.js';
import type { LoadTiming } from './load-job.js';
import { openLoop } from './open-loop.js';

export interface SearchQuerySpec {
  /** What kind of query, for the per-kind figures (`latin`, `cjk`, `prefix`, `none`, ...). */
  kind: string;
  q: string;
  conversationId?: string;
}

export interface SearchTask {
  url: string;
  token: string;
  /** Asked in turn. */
  queries: SearchQuerySpec[];
  /** Searches per second, open loop. */
  rate: number;
  timing: LoadTiming;
}

/** Searches in flight at most; one due while they are all out is counted as skipped. */
const MAX_IN_FLIGHT = 64;

export async function runSearches(task: SearchTask): Promise<Record<string, unknown>> {
  const { rate, timing, queries } = task;
  const api = new HttpApi(task.url);
  const hist = new Histogram();
  const byKind = new Map<string, Histogram>();
  let errors = 0;
  let hits = 0;
  try {
    await sleepUntil(timing.measureFrom);
    const from = now();
    const { skipped, pending } = await openLoop(rate, from, timing.measureTo, MAX_IN_FLIGHT, (n) => {
      const query = queries[n % queries.length] as SearchQuerySpec;
      const t0 = now();
      return api.search(task.token, query.q, query.conversationId).then(
        (page) => {
          const ms = now() - t0;
          hist.recordMs(ms);
          let h = byKind.get(query.kind);
          if (!h) byKind.set(query.kind, (h = new Histogram()));
          h.recordMs(ms);
          hits += page.hits.length;
        },
        () => {
          errors++;
        },
      );
    });
    await Promise.all(pending);
    const ms = (h: Histogram, x: number): number | null => {
      const v = h.quantileMs(x);
      return v === null ? null : round(v);
    };
    return {
      search_rate: rate,
      searches_per_s: round(hist.total / ((timing.measureTo - from) / 1000)),
      search_p50_ms: ms(hist, 0.5),
      search_p95_ms: ms(hist, 0.95),
      search_p99_ms: ms(hist, 0.99),
      search_max_ms: hist.maxMs() === null ? null : round(hist.maxMs() as number),
      search_p99_ms_by_kind: Object.fromEntries([...byKind].map(([k, h]) => [k, ms(h, 0.99)])),
      search_hits_per_query: hist.total > 0 ? round(hits / hist.total) : 0,
      search_errors: errors,
      search_skipped: skipped,
    };
  } finally {
    api.close();
  }
}
