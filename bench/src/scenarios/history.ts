/**
 * `history`: a direct conversation of `--history-size` messages (default 1,000,000, seeded
 * over WebSocket by 8 devices with 256 unacked sends each), read in pages of 50 at random
 * positions at `--page-rate` pages/s (by a worker process of its own) while the dm workload
 * runs at `--rate` (default 5000).
 */
import { HttpApi, runPrefix, seedAccounts } from '../http-api.js';
import type { Account } from '../http-api.js';
import { now } from '../clock.js';
import { waitQuiet } from '../proc-stats.js';
import type { BenchResult } from '../result.js';
import { round } from '../result.js';
import type { LoadTiming } from '../worker/load-job.js';
import type { PagesTask } from '../worker/pages-job.js';
import { WorkerPool } from '../worker/pool.js';
import type { RunContext } from './common.js';
import { roundLatencies, runLoadPhase } from './common.js';
import { loadParams, seedPairs } from './dm.js';
import { blast } from './seed-messages.js';

const SEED_DEVICES = 8;
/** After seeding, the machine's busy CPU (%) to wait for before the measured load starts. */
const SETTLED_PCT = 25;
const PAGE = 50;

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
    // The pages are read by a process that does nothing else (see pages-job.ts).
    const pages = WorkerPool.start(1);
    let r;
    try {
      r = roundLatencies(
        await runLoadPhase(ctx, {
          convs,
          ...loadParams(ctx, rate),
          extraPids: pages.pids,
          during: (timing: LoadTiming) =>
            pages.call<Record<string, unknown>>(0, 'pages.read', {
              url: server.url,
              token: reader.token,
              conversationId: conv.id,
              size,
              rate: opts.pageRate,
              page: PAGE,
              timing,
            } satisfies PagesTask),
        }),
      );
    } finally {
      await pages.close();
    }
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
