/**
 * `dm`: pairs of users, each sending ~100-character texts to its partner over a direct
 * conversation. `relay`: the same workload against the bare `ws` relay (no auth, no store).
 */
import { HttpApi, mapLimit, runPrefix, seedAccounts } from '../http-api.js';
import type { Account } from '../http-api.js';
import type { BenchResult } from '../result.js';
import type { ConvPlan, RunContext } from './common.js';
import { roundLatencies, runLoadPhase } from './common.js';

export function defaultWarmup(durationS: number): number {
  return durationS < 5 ? 0.5 : 2;
}

/**
 * Messages per second that one load-generator process sends and receives at a fixed rate with
 * CPU to spare (~30% of a core at 5,000/s). Below it one process does the work: each process
 * more costs the generator CPU that the server shares (two cores here). `dm --cluster
 * --clients 1000 --rate 5000 --duration 10`, six alternating pairs with 1 / 2 processes: p99
 * 68.4 / 138.8, 116 / 82.7, 80.6 / 108.3, 83.2 / 120.6, 126.2 / 81.7, 61.1 / 73.5 ms, the
 * generator using 27-31% against 34-37% CPU.
 */
const RATE_PER_WORKER = 6000;

/** The load phase's parameters of `dm` (and `history`, whose load is dm's) at `rate`. */
export function loadParams(ctx: RunContext, rate: number) {
  const { opts } = ctx;
  return {
    // The maximum (rate 0) needs all the generator can do: two processes.
    workers: opts.workers ?? (rate === 0 ? 2 : Math.min(2, Math.ceil(rate / RATE_PER_WORKER))),
    rate,
    window: opts.window ?? (rate === 0 ? 8 : 1000),
    warmupS: opts.warmup ?? defaultWarmup(opts.duration),
    durationS: opts.duration,
  };
}

/** Sign up 2 × pairs users and open a direct conversation for each pair. */
export async function seedPairs(ctx: RunContext, pairs: number): Promise<ConvPlan[]> {
  const api = new HttpApi(ctx.server.url);
  try {
    const t0 = Date.now();
    const accounts = await seedAccounts(api, runPrefix(), pairs * 2);
    const convs = await mapLimit(
      Array.from({ length: pairs }, (_, i) => i),
      64,
      async (i) => {
        const a = accounts[2 * i] as Account;
        const b = accounts[2 * i + 1] as Account;
        const conv = await api.direct(a.token, b.username);
        return {
          id: conv.id,
          members: [
            { userId: a.userId, token: a.token, sends: true },
            { userId: b.userId, token: b.token, sends: true },
          ],
        };
      },
    );
    ctx.log(`seeded ${pairs * 2} users and ${pairs} direct conversations in ${(Date.now() - t0) / 1000} s`);
    return convs;
  } finally {
    api.close();
  }
}

export async function runDm(ctx: RunContext): Promise<BenchResult> {
  const clients = ctx.opts.clients ?? 1000;
  const pairs = Math.max(1, Math.floor(clients / 2));
  const convs = await seedPairs(ctx, pairs);
  const r = roundLatencies(await runLoadPhase(ctx, { convs, ...loadParams(ctx, ctx.opts.rate ?? 0) }));
  return { scenario: 'dm', ...r };
}

/** The relay needs no seeding: user ids are made up and a conversation id names its members. */
export async function runRelay(ctx: RunContext): Promise<BenchResult> {
  const clients = ctx.opts.clients ?? 1000;
  const pairs = Math.max(1, Math.floor(clients / 2));
  const convs: ConvPlan[] = Array.from({ length: pairs }, (_, i) => {
    const a = `u${2 * i}`;
    const b = `u${2 * i + 1}`;
    return {
      id: `r~${a}~${b}`,
      members: [
        { userId: a, token: a, sends: true },
        { userId: b, token: b, sends: true },
      ],
    };
  });
  const r = roundLatencies(await runLoadPhase(ctx, { convs, ...loadParams(ctx, ctx.opts.rate ?? 0) }));
  return { scenario: 'relay', ...r };
}
