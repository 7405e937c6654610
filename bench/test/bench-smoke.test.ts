/**
 * Smoke check of the bench (part of `npm test`): every scenario runs for ~2 s at low load
 * through the real CLI against a real server process (and `dm --cluster` against the local
 * cluster on PostgreSQL and Redis), loses and duplicates nothing, and writes every required
 * JSON field. No speed assertions: benchmarks are never timed assertions in tests.
 * Needs the build (`npm install` runs it; bench/dist and packages/server/dist).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL, REDIS_URL, pgAvailable, redisAvailable, redisKeys } from '../../test/helpers/services.js';
import pg from 'pg';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'bench/dist/cli.js');

const REQUIRED = [
  'scenario',
  'clients',
  'duration_s',
  'offered_per_s',
  'delivered_per_s',
  'p50_ms',
  'p95_ms',
  'p99_ms',
  'max_ms',
  'lost',
  'duplicated',
  'server_rss_mb',
  'server_cpu_pct',
];

const SMALL: Record<string, { args: string[]; extra: string[] }> = {
  dm: {
    args: ['--clients', '20', '--rate', '200'],
    extra: ['acked_per_s', 'ack_p99_ms', 'max_ms_by_half_second', 'ack_max_ms_by_half_second'],
  },
  group: {
    args: ['--clients', '20', '--group-size', '10', '--rate', '20'],
    extra: ['group_size', 'groups'],
  },
  idle: { args: ['--clients', '200'], extra: ['bytes_per_conn', 'connects_per_s'] },
  sync: { args: ['--clients', '100', '--missed', '5'], extra: ['catchup_s'] },
  history: {
    args: ['--history-size', '5000', '--clients', '20', '--rate', '200', '--page-rate', '50'],
    extra: ['page_p99_ms', 'history_size', 'pages_per_s', 'reader_loop_delay_p99_ms'],
  },
  search: {
    args: ['--search-size', '3000', '--clients', '20', '--rate', '200', '--search-rate', '20'],
    extra: ['search_p50_ms', 'search_p99_ms', 'search_size', 'fill_s', 'searches_per_s'],
  },
  media: {
    args: ['--clients', '20', '--rate', '200', '--upload-rate', '5'],
    extra: [
      'uploads_per_s',
      'upload_p50_ms',
      'upload_p99_ms',
      'photo_upload_p99_ms',
      'thumbnail_p99_ms',
      'server_rss_mb_start',
      'server_rss_mb_max',
      'server_rss_mb_growth',
      'upload_errors',
    ],
  },
  relay: { args: ['--clients', '20', '--rate', '200'], extra: [] },
};

let dir: string;

async function servicesMissing(): Promise<string | null> {
  const why = (await Promise.all([pgAvailable(), redisAvailable()])).filter((r) => r !== null);
  return why.length > 0 ? why.join('; ') : null;
}

/** Databases the bench's --cluster runs create (parley_bench_<pid>_<random>). */
async function benchDatabases(): Promise<string[]> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const { rows } = await c.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'parley_bench%' ORDER BY 1",
    );
    return rows.map((r) => r.datname);
  } finally {
    await c.end();
  }
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -b\` first`);
  dir = mkdtempSync(join(tmpdir(), 'parley-bench-smoke-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function bench(args: string[]): Promise<Record<string, unknown>> {
  const file = join(dir, `${args.join('_').replace(/[^a-z0-9_]/gi, '')}.json`);
  await run(process.execPath, [CLI, ...args, '--duration', '2', '--json', file], {
    cwd: ROOT,
    // --cluster uses the same services as the cluster tests.
    env: { ...process.env, PARLEY_BENCH_PG_URL: PG_URL, PARLEY_BENCH_REDIS_URL: REDIS_URL },
    timeout: 150_000,
  });
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

describe('bench smoke', () => {
  for (const [scenario, { args, extra }] of Object.entries(SMALL)) {
    it(`${scenario} runs at low load with nothing lost or duplicated`, async () => {
      const r = await bench(['--scenario', scenario, ...args]);
      for (const f of [...REQUIRED, ...extra]) expect(r, `field ${f}`).toHaveProperty(f);
      expect(r.scenario).toBe(scenario);
      expect(r.lost).toBe(0);
      expect(r.duplicated).toBe(0);
      expect(r.failed ?? 0).toBe(0);
      if (scenario !== 'idle') expect(r.delivered_per_s).toBeGreaterThan(0);
      // Pages are read by a worker of their own; every one answered.
      if (scenario === 'history') {
        expect(r.pages_per_s).toBeGreaterThan(0);
        expect(r.page_errors).toBe(0);
      }
      // Searches likewise, and the ones for stored words find something.
      if (scenario === 'search') {
        expect(r.searches_per_s).toBeGreaterThan(0);
        expect(r.search_errors).toBe(0);
        expect(r.search_hits_per_query).toBeGreaterThan(0);
      }
      // Uploads likewise: every one finished and sent, and every photo got its thumbnail.
      if (scenario === 'media') {
        expect(r.uploads_per_s).toBeGreaterThan(0);
        expect(r.photo_uploads).toBeGreaterThan(0);
        expect(r.upload_errors).toBe(0);
        expect(r.upload_skipped).toBe(0);
        expect(r.photos_without_thumbnail).toBe(0);
      }
    }, 160_000);
  }

  it('dm with --compare-relay reports the ratio to the relay', async () => {
    const r = await bench([
      '--scenario',
      'dm',
      '--clients',
      '20',
      '--rate',
      '100',
      '--ramp',
      '0.5',
      '--compare-relay',
    ]);
    // 0.5 s of warmup (ramping up) and 2 s measured: the slowest message of each half second.
    const slowest = r.max_ms_by_half_second as number[];
    expect(slowest).toHaveLength(5);
    for (const ms of slowest) expect(Number.isFinite(ms) && ms >= 0).toBe(true);
    expect(r.lost).toBe(0);
    expect(r.duplicated).toBe(0);
    expect(typeof r.ratio_to_relay).toBe('number');
    expect((r.relay as Record<string, unknown>).lost).toBe(0);
  }, 160_000);

  it('draws the latency chart from JSON results', async () => {
    const svg = join(dir, 'chart.svg');
    const files = ['dm', 'relay'].map((s) => join(dir, `scenario_${s}_clients_20_rate_200.json`));
    await run(process.execPath, [CLI, '--chart', svg, '--from', ...files], { cwd: ROOT });
    const text = readFileSync(svg, 'utf8');
    expect(text).toContain('<svg');
    expect(text).toContain('dm p99');
  });

  it('store-append appends for a second from two connections and drops its database', async (ctx) => {
    const why = await pgAvailable();
    if (why) {
      if (process.env.PARLEY_REQUIRE_SERVICES) throw new Error(`store-append needs PostgreSQL: ${why}`);
      console.warn(`skipped: ${why}`);
      ctx.skip();
      return;
    }
    const before = await benchDatabases();
    const args = ['--appenders', '2', '--batch', '5', '--users', '20', '--seconds', '1'];
    const { stdout } = await run(process.execPath, [join(ROOT, 'bench/dist/store-append.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, PARLEY_BENCH_PG_URL: PG_URL },
      timeout: 60_000,
    });
    const m = /msgs\/s (\d+) .* failed (\d+)/.exec(stdout);
    expect(m, stdout).not.toBeNull();
    expect(Number(m?.[1])).toBeGreaterThan(0);
    expect(Number(m?.[2])).toBe(0);
    expect(await benchDatabases()).toEqual(before);
  }, 70_000);

  it('dm --cluster runs against 1 API + 3 chat servers and removes its database and keys', async (ctx) => {
    const why = await servicesMissing();
    if (why) {
      if (process.env.PARLEY_REQUIRE_SERVICES)
        throw new Error(`--cluster needs PostgreSQL and Redis: ${why}`);
      console.warn(`skipped: ${why}`);
      ctx.skip();
      return;
    }
    const before = await benchDatabases();
    const r = await bench(['--scenario', 'dm', '--cluster', '--clients', '30', '--rate', '150']);
    for (const f of REQUIRED) expect(r, `field ${f}`).toHaveProperty(f);
    expect(r.lost).toBe(0);
    expect(r.duplicated).toBe(0);
    expect(r.delivered_per_s).toBeGreaterThan(0);
    expect(r.server_processes).toBe(4);
    expect(await benchDatabases()).toEqual(before);
    expect(await redisKeys('parley_bench:')).toEqual([]);
  }, 160_000);
});
