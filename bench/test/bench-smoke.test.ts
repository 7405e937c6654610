/**
 * Smoke check of the bench: every scenario runs for ~2 s at low load through the real CLI
 * against a real server process, loses and duplicates nothing, and writes every required
 * JSON field. No speed assertions (benchmarks are never timed assertions in tests).
 * Needs `npx tsc -b` first (bench/dist and packages/server/dist).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
  dm: { args: ['--clients', '20', '--rate', '200'], extra: ['acked_per_s', 'ack_p99_ms'] },
  group: {
    args: ['--clients', '20', '--group-size', '10', '--rate', '20'],
    extra: ['group_size', 'groups'],
  },
  idle: { args: ['--clients', '200'], extra: ['bytes_per_conn', 'connects_per_s'] },
  sync: { args: ['--clients', '100', '--missed', '5'], extra: ['catchup_s'] },
  history: {
    args: ['--history-size', '5000', '--clients', '20', '--rate', '200', '--page-rate', '50'],
    extra: ['page_p99_ms', 'history_size'],
  },
  relay: { args: ['--clients', '20', '--rate', '200'], extra: [] },
};

let dir: string;

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
    }, 160_000);
  }

  it('dm with --compare-relay reports the ratio to the relay', async () => {
    const r = await bench(['--scenario', 'dm', '--clients', '20', '--rate', '100', '--compare-relay']);
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

  it('refuses --cluster with a clear message', async () => {
    const err = await run(process.execPath, [CLI, '--scenario', 'dm', '--cluster'], { cwd: ROOT }).then(
      () => null,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain('cluster mode is not available yet');
  });
});
