/**
 * `group`: groups of `--group-size` members (default 100), one device each; every member
 * sends to its group. delivered_per_s counts deliveries: one per receiving member device.
 */
import { HttpApi, mapLimit, runPrefix, seedAccounts } from '../http-api.js';
import type { BenchResult } from '../result.js';
import type { ConvPlan, RunContext } from './common.js';
import { roundLatencies, runLoadPhase } from './common.js';
import { defaultWarmup } from './dm.js';

export async function runGroup(ctx: RunContext): Promise<BenchResult> {
  const { opts } = ctx;
  const size = Math.max(2, opts.groupSize);
  const groups = Math.max(1, Math.floor((opts.clients ?? 1000) / size));
  const api = new HttpApi(ctx.server.url);
  let convs: ConvPlan[];
  try {
    const t0 = Date.now();
    const accounts = await seedAccounts(api, runPrefix(), groups * size);
    convs = await mapLimit(
      Array.from({ length: groups }, (_, g) => g),
      8,
      async (g) => {
        const members = accounts.slice(g * size, (g + 1) * size);
        const [creator, ...rest] = members;
        if (!creator) throw new Error('empty group');
        const conv = await api.group(
          creator.token,
          `bench group ${g}`,
          rest.map((m) => m.username),
        );
        return {
          id: conv.id,
          members: members.map((m) => ({ userId: m.userId, token: m.token, sends: true })),
        };
      },
    );
    ctx.log(`seeded ${groups * size} users in ${groups} groups in ${(Date.now() - t0) / 1000} s`);
  } finally {
    api.close();
  }
  const rate = opts.rate ?? 0;
  const r = roundLatencies(
    await runLoadPhase(ctx, {
      convs,
      workers: opts.workers ?? 2,
      rate,
      window: opts.window ?? (rate === 0 ? 1 : 1000),
      warmupS: opts.warmup ?? defaultWarmup(opts.duration),
      durationS: opts.duration,
    }),
  );
  return { scenario: 'group', group_size: size, groups, ...r };
}
