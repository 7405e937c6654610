/** Running scenarios: the server's lifetime around each run, repeats, the relay comparison, sweeps. */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import type { BenchOptions, ScenarioName } from './options.js';
import { startCluster } from './cluster.js';
import { externalServer, startParley, startRelay } from './processes.js';
import type { ServerHandle } from './processes.js';
import { formatProfile, summarizeProfile } from './profile-summary.js';
import type { CpuProfile } from './profile-summary.js';
import { combineRuns, round } from './result.js';
import { waitQuiet } from './proc-stats.js';
import type { BenchResult } from './result.js';
import type { RunContext } from './scenarios/common.js';
import { runDm, runRelay } from './scenarios/dm.js';
import { runGroup } from './scenarios/group.js';
import { runHistory } from './scenarios/history.js';
import { runIdle } from './scenarios/idle.js';
import { MEDIA_SERVER_FLAGS, runMedia } from './scenarios/media.js';
import { SEARCH_SERVER_FLAGS, runSearch } from './scenarios/search.js';
import { runSync } from './scenarios/sync.js';

export type Log = (msg: string) => void;

const EXTRA_SERVER_FLAGS: Partial<Record<ScenarioName, readonly string[]>> = {
  search: SEARCH_SERVER_FLAGS,
  media: MEDIA_SERVER_FLAGS,
};

const RUNNERS: Record<ScenarioName, (ctx: RunContext) => Promise<BenchResult>> = {
  dm: runDm,
  group: runGroup,
  idle: runIdle,
  sync: runSync,
  history: runHistory,
  search: runSearch,
  media: runMedia,
  relay: runRelay,
};

/**
 * The commit the measured code comes from, with "+dirty" when packages/server or
 * packages/protocol have uncommitted changes (null outside a git checkout).
 */
export function codeVersion(): string | null {
  try {
    const cwd = fileURLToPath(new URL('../..', import.meta.url));
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', 'packages/server', 'packages/protocol'], {
      cwd,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return null;
  }
}

/** nproc, CPU model and Node version, as the report needs them. */
export function machine(): { nproc: number; cpu: string; node: string } {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpu = m[1].trim();
  } catch {
    // not Linux
  }
  return { nproc: cpus().length, cpu, node: process.version };
}

/** The `.cpuprofile` files node wrote for process `pid` (one per thread: main, store worker...). */
function profilesOf(dir: string, pid: number | null): { file: string; thread: number }[] {
  const out: { file: string; thread: number }[] = [];
  for (const f of readdirSync(dir)) {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile
    const m = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(f);
    if (m && Number(m[1]) === pid) out.push({ file: join(dir, f), thread: Number(m[2]) });
  }
  return out.sort((a, b) => a.thread - b.thread);
}

/** One run of one scenario: start its server (unless --target), run, stop, summarize the profile. */
export async function runOnce(name: ScenarioName, opts: BenchOptions, log: Log): Promise<BenchResult> {
  if (opts.waitQuiet !== undefined) await waitQuiet(opts.waitQuiet, log);
  const profileDir = opts.profile && name !== 'relay' ? resolve(opts.profile) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  let server: ServerHandle;
  if (name === 'relay') server = await startRelay();
  else if (opts.target) server = externalServer(opts.target);
  else {
    const start = opts.cluster ? startCluster : startParley;
    server = await start({
      nodeOptions: profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
      // Searches come from one user, uploads from a few, at many per second: past the per-user limits.
      serverArgs: [...(EXTRA_SERVER_FLAGS[name] ?? []), ...opts.serverArgs],
      keepData: opts.keepData,
      dataParent: opts.dataParent,
      serverCli: opts.serverCli,
      shards: opts.shards,
    });
  }
  log(
    server.kind === 'cluster'
      ? `${name}: cluster: API ${server.url}, chat servers ${server.wsUrls.join(' ')} (pids ${server.pids.join(' ')})`
      : `${name}: ${name === 'relay' ? 'relay' : 'server'} at ${server.url}${server.pid ? ` (pid ${server.pid})` : ''}`,
  );
  let result: BenchResult;
  try {
    result = await RUNNERS[name]({ opts, server, log: (m) => log(`${name}: ${m}`) });
  } finally {
    await server.stop();
  }
  if (profileDir) {
    const window = result.profile_window_us as [number, number] | undefined;
    const threads = server.pids
      .flatMap((pid) => profilesOf(profileDir, pid))
      .map(({ file, thread }) => {
        const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
        const summary = summarizeProfile(
          profile,
          window ? { fromUs: window[0], toUs: window[1], top: 25 } : { top: 25 },
        );
        log(
          `${name}: CPU profile of ${thread === 0 ? 'the main thread' : `thread ${thread}`}: ${file}` +
            `${window ? ' (measured window only)' : ''}\n${formatProfile(summary)}`,
        );
        return { thread, file, ...summary };
      });
    if (threads.length === 0)
      log(`${name}: no .cpuprofile of pids ${server.pids.join(' ')} in ${profileDir}`);
    result.profile = threads;
  }
  return result;
}

function tooNoisy(r: BenchResult, opts: BenchOptions): boolean {
  const other = r.other_cpu_pct ?? r.other_cpu_connect_pct;
  return opts.maxOther !== undefined && typeof other === 'number' && other > opts.maxOther;
}

/** `repeat` runs of a scenario combined (medians), with the relay run alternately when asked. */
async function runRepeated(name: ScenarioName, opts: BenchOptions, log: Log): Promise<BenchResult> {
  const runs: BenchResult[] = [];
  const relays: BenchResult[] = [];
  const ratios: number[] = [];
  let rejected = 0;
  for (let i = 0; i < opts.repeat; i++) {
    if (opts.repeat > 1) log(`${name}: run ${i + 1} of ${opts.repeat}`);
    let r = await runOnce(name, opts, log);
    for (let retry = 0; retry < 5 && tooNoisy(r, opts); retry++) {
      rejected++;
      log(`${name}: other processes used ${String(r.other_cpu_pct)}% CPU during the run; running it again`);
      r = await runOnce(name, opts, log);
    }
    runs.push(r);
    if (opts.compareRelay && name === 'dm') {
      let relay = await runOnce('relay', opts, log);
      for (let retry = 0; retry < 5 && tooNoisy(relay, opts); retry++) {
        rejected++;
        relay = await runOnce('relay', opts, log);
      }
      relays.push(relay);
      if (relay.delivered_per_s > 0) ratios.push(r.delivered_per_s / relay.delivered_per_s);
    }
  }
  const out = combineRuns(runs);
  if (opts.maxOther !== undefined) out.rejected_runs = rejected;
  if (relays.length > 0) {
    const relay = combineRuns(relays);
    const sorted = [...ratios].sort((a, b) => a - b);
    out.relay_delivered_per_s = relay.delivered_per_s;
    out.relay_p99_ms = relay.p99_ms;
    out.ratio_to_relay = sorted.length > 0 ? round(sorted[Math.floor(sorted.length / 2)] as number) : null;
    out.relay = relay;
  }
  return out;
}

/** Every scenario of the command line, or the dm sweep. */
export async function runBench(opts: BenchOptions, log: Log): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  if (opts.sweep) {
    for (const rate of opts.sweep) {
      const o = { ...opts, rate };
      results.push(await runRepeated('dm', { ...o, compareRelay: false }, log));
      if (opts.compareRelay) results.push(await runRepeated('relay', o, log));
    }
    return results;
  }
  for (const name of opts.scenarios) results.push(await runRepeated(name, opts, log));
  // `--scenario dm,relay`: the same comparison as --compare-relay.
  const dm = results.find((r) => r.scenario === 'dm');
  const relay = results.find((r) => r.scenario === 'relay');
  if (dm && relay && dm.ratio_to_relay === undefined && relay.delivered_per_s > 0) {
    dm.relay_delivered_per_s = relay.delivered_per_s;
    dm.ratio_to_relay = round(dm.delivered_per_s / relay.delivered_per_s);
  }
  return results;
}
