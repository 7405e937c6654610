/**
 * History pages read at a fixed rate during a load phase, in a worker process of their own:
 * a page's latency includes the event loop of the process that measures it, so that process
 * does nothing else (the coordinator seeds the 1,000,000-message conversation, whose garbage
 * it collects later, and samples /proc and the servers during the window).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { now, sleepUntil } from '../clock.js';
import { Histogram } from '../histogram.js';
import { HttpApi } from '../http-api.js';
import { round } from '../result.js';
import type { LoadTiming } from './load-job.js';
import { openLoop } from './open-loop.js';

export interface PagesTask {
  url: string;
  token: string;
  conversationId: string;
  /** Messages in the conversation; pages end at random positions in it. */
  size: number;
  /** Pages per second, open loop. */
  rate: number;
  /** Messages per page. */
  page: number;
  timing: LoadTiming;
}

/** Pages in flight at most; a page due while they are all out is counted as skipped. */
const MAX_IN_FLIGHT = 64;

/** Open-loop page reads at `rate`/s during the measured window. */
export async function readPages(task: PagesTask): Promise<Record<string, unknown>> {
  const { size, rate, page: PAGE, timing } = task;
  const api = new HttpApi(task.url);
  const hist = new Histogram();
  let errors = 0;
  let short = 0;
  try {
    await sleepUntil(timing.measureFrom);
    // This process's own event-loop delay: a page's latency includes it (the reader's side of
    // the measurement), so it is reported next to the page figures.
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const from = now();
    const { skipped, pending } = await openLoop(rate, from, timing.measureTo, MAX_IN_FLIGHT, () => {
      // A page ending anywhere in the conversation: `before` in [PAGE + 1, size + 1].
      const before = PAGE + 1 + Math.floor(Math.random() * (size - PAGE + 1));
      const t0 = now();
      return api.history(task.token, task.conversationId, before, PAGE).then(
        (result) => {
          hist.recordMs(now() - t0);
          if (result.messages.length !== PAGE) short++;
        },
        () => {
          errors++;
        },
      );
    });
    loop.disable();
    await Promise.all(pending);
    const q = (x: number): number | null => {
      const v = hist.quantileMs(x);
      return v === null ? null : round(v);
    };
    return {
      page_rate: rate,
      pages_per_s: round(hist.total / ((timing.measureTo - from) / 1000)),
      page_p50_ms: q(0.5),
      page_p95_ms: q(0.95),
      page_p99_ms: q(0.99),
      page_max_ms: hist.maxMs() === null ? null : round(hist.maxMs() as number),
      page_errors: errors,
      reader_loop_delay_p99_ms: round(loop.percentile(99) / 1e6),
      reader_loop_delay_max_ms: round(loop.max / 1e6),
      page_short: short,
      page_skipped: skipped,
    };
  } finally {
    api.close();
  }
}
