/**
 * `history`: a direct conversation of `--history-size` messages (default 1,000,000, seeded
 * over WebSocket by 8 devices with 256 unacked sends each), read in pages of 50 at random
 * positions at `--page-rate` pages/s while the dm workload runs at `--rate` (default 5000).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Histogram } from '../histogram.js';
import { HttpApi, runPrefix, seedAccounts } from '../http-api.js';
import type { Account } from '../http-api.js';
import { now, sleepUntil } from '../clock.js';
import { waitQuiet } from '../proc-stats.js';
import type { BenchResult } from '../result.js';
import { round } from '../result.js';
import type { LoadTiming } from '../worker/load-job.js';
import type { RunContext } from './common.js';
import { roundLatencies, runLoadPhase } from './common.js';
import { defaultWarmup, seedPairs } from './dm.js';
import { blast } from './seed-messages.js';

const SEED_DEVICES = 8;
/** After seeding, the machine's busy CPU (%) to wait for before the measured load starts. */
const SETTLED_PCT = 25;
const PAGE = 50;

/** Open-loop page reads at `rate`/s during the window (at most 64 in flight). */
async function readPages(
  api: HttpApi,
  token: string,
  conversationId: string,
  size: number,
  rate: number,
  timing: LoadTiming,
): Promise<Record<string, unknown>> {
  const hist = new Histogram();
  let errors = 0;
  let short = 0;
  let inflight = 0;
  let started = 0;
  let skipped = 0;
  const pending = new Set<Promise<void>>();
  await sleepUntil(timing.measureFrom);
  // This process's own event-loop delay: a page's latency includes it (the reader's side of
  // the measurement), so it is reported next to the page figures.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const from = now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const t = now();
      if (t >= timing.measureTo) {
        clearInterval(timer);
        resolve();
        return;
      }
      const due = Math.floor(((t - from) * rate) / 1000) - started;
      for (let k = 0; k < due; k++) {
        started++;
        if (inflight >= 64) {
          skipped++;
          continue;
        }
        // A page ending anywhere in the conversation: `before` in [PAGE + 1, size + 1].
        const before = PAGE + 1 + Math.floor(Math.random() * (size - PAGE + 1));
        const t0 = now();
        inflight++;
        const p = api
          .history(token, conversationId, before, PAGE)
          .then(
            (page) => {
              hist.recordMs(now() - t0);
              if (page.messages.length !== PAGE) short++;
            },
            () => {
              errors++;
            },
          )
          .finally(() => {
            inflight--;
            pending.delete(p);
          });
        pending.add(p);
      }
    }, 1);
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
}

export async function runHistory(ctx: RunContext): Promise<BenchResult> {
  const { opts, server } = ctx;
  const size = Math.max(PAGE + 1, opts.historySize);
  const api = new HttpApi(server.url);
  try {
    // Two users, each logged in on SEED_DEVICES devices (maxConnectionsPerDevice is 4).
    const accounts = await seedAccounts(api, `${runPrefix()}h`, 2, SEED_DEVICES);
    const writer = accounts.slice(0, SEED_DEVICES);
    const reader = accounts[SEED_DEVICES] as Account;
    const conv = await api.direct((writer[0] as Account).token, reader.username);
    ctx.log(`seeding a conversation of ${size} messages`);
    const per = Math.floor(size / SEED_DEVICES);
    const seeded = await blast(
      server.wsUrls[0] as string,
      writer.map((w, i) => ({
        token: w.token,
        conversationIds: [conv.id],
        perConv: i === 0 ? size - per * (SEED_DEVICES - 1) : per,
      })),
      { window: 256, textChars: opts.textChars, log: ctx.log },
    );
    ctx.log(`seeded ${seeded.sent} messages in ${round(seeded.seconds)} s`);
    // The figures are for a server holding the conversation, not one still writing a bulk
    // import back into its database file (the checkpointer copies the seed's WAL for a while).
    const settleFrom = now();
    await waitQuiet(SETTLED_PCT, ctx.log, 120_000);
    const settled = round((now() - settleFrom) / 1000);
    const clients = opts.clients ?? 200;
    const convs = await seedPairs(ctx, Math.max(1, Math.floor(clients / 2)));
    const rate = opts.rate ?? 5000;
    const r = roundLatencies(
      await runLoadPhase(ctx, {
        convs,
        workers: opts.workers ?? 2,
        rate,
        window: opts.window ?? (rate === 0 ? 8 : 1000),
        warmupS: opts.warmup ?? defaultWarmup(opts.duration),
        durationS: opts.duration,
        during: (timing) => readPages(api, reader.token, conv.id, size, opts.pageRate, timing),
      }),
    );
    return {
      scenario: 'history',
      history_size: size,
      seed_s: round(seeded.seconds),
      seed_per_s: round(seeded.sent / seeded.seconds),
      settle_s: settled,
      ...r,
    };
  } finally {
    api.close();
  }
}
