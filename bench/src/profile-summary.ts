/**
 * Summarize a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function and per
 * package, optionally only for samples inside a window of CLOCK_MONOTONIC microseconds (the
 * clock V8 stamps samples with; the bench records its measured window in that clock).
 *
 *   node bench/dist/profile-summary.js FILE.cpuprofile [--top 25] [--from-us A --to-us B]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  where: string;
  selfMs: number;
  /** Share of busy (not idle) time, %. */
  pct: number;
}

export interface ProfileSummary {
  /** Sampled time, ms, and the part that was not idle. */
  totalMs: number;
  busyMs: number;
  functions: ProfileRow[];
  /** Self time by package or server folder (e.g. `server/store`, `ws`, `node:net`, `(gc)`). */
  groups: ProfileRow[];
}

const IDLE = new Set(['(idle)']);

/** A short location: repo-relative path (or package name) and line. */
function where(cf: CallFrame): string {
  if (!cf.url) return '(native)';
  const u = cf.url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  const path = nm >= 0 ? u.slice(nm + '/node_modules/'.length) : u.replace(/^.*?\/(packages|bench)\//, '$1/');
  return `${path}:${cf.lineNumber + 1}`;
}

/** The group a frame's self time counts towards. */
function group(cf: CallFrame): string {
  if (cf.functionName.startsWith('(')) {
    return cf.functionName === '(garbage collector)' ? '(gc)' : cf.functionName;
  }
  const u = cf.url.replace(/^file:\/\//, '');
  if (!u) return '(native: JSON, Buffer, syscalls...)';
  if (u.startsWith('node:')) return u.split('/').slice(0, 1).join('/');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = u.slice(nm + '/node_modules/'.length).split('/');
    return (parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]) ?? u;
  }
  const m = /\/packages\/([^/]+)\/(?:dist|src)\/(?:([^/]+)\/)?/.exec(u);
  if (m) return m[2] && !m[2].endsWith('.js') ? `${m[1]}/${m[2]}` : `${m[1]}`;
  return u;
}

export function summarizeProfile(
  profile: CpuProfile,
  opts: { top?: number; fromUs?: number; toUs?: number } = {},
): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const self = new Map<number, number>();
  let t = profile.startTime;
  const times: number[] = [];
  for (const d of profile.timeDeltas) times.push((t += d));
  for (let i = 0; i < profile.samples.length; i++) {
    const ts = times[i] as number;
    if (opts.fromUs !== undefined && ts < opts.fromUs) continue;
    if (opts.toUs !== undefined && ts >= opts.toUs) continue;
    // A sample stands for the time until the next one.
    const dur = (times[i + 1] ?? profile.endTime) - ts;
    const id = profile.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + Math.max(0, dur));
  }
  const fns = new Map<string, ProfileRow>();
  const groups = new Map<string, ProfileRow>();
  let total = 0;
  let busy = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const cf = node.callFrame;
    total += us;
    if (IDLE.has(cf.functionName)) continue;
    busy += us;
    const name = cf.functionName || '(anonymous)';
    const w = where(cf);
    const key = `${name} ${w}`;
    const row = fns.get(key) ?? { name, where: w, selfMs: 0, pct: 0 };
    row.selfMs += us / 1000;
    fns.set(key, row);
    const g = group(cf);
    const grow = groups.get(g) ?? { name: g, where: '', selfMs: 0, pct: 0 };
    grow.selfMs += us / 1000;
    groups.set(g, grow);
  }
  const finish = (rows: Iterable<ProfileRow>, top: number): ProfileRow[] =>
    [...rows]
      .map((r) => ({
        ...r,
        selfMs: Math.round(r.selfMs * 10) / 10,
        pct: busy > 0 ? Math.round(((r.selfMs * 1000) / busy) * 1000) / 10 : 0,
      }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top);
  return {
    totalMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    functions: finish(fns.values(), opts.top ?? 25),
    groups: finish(groups.values(), 20),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const lines = [
    `sampled ${s.totalMs} ms, busy ${s.busyMs} ms (${s.totalMs > 0 ? Math.round((s.busyMs / s.totalMs) * 100) : 0}% of the thread's time)`,
    '',
    'self time by package / server folder (% of busy):',
    ...s.groups.map(
      (g) => `  ${g.pct.toFixed(1).padStart(5)}%  ${g.selfMs.toFixed(0).padStart(7)} ms  ${g.name}`,
    ),
    '',
    'top functions by self time (% of busy):',
    ...s.functions.map(
      (f) =>
        `  ${f.pct.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}  ${f.where}`,
    ),
  ];
  return lines.join('\n');
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string' }, 'from-us': { type: 'string' }, 'to-us': { type: 'string' } },
  });
  const file = positionals[0];
  if (!file) {
    process.stderr.write(
      'usage: node bench/dist/profile-summary.js FILE.cpuprofile [--top N] [--from-us A --to-us B]\n',
    );
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const opts: { top?: number; fromUs?: number; toUs?: number } = {};
  if (values.top) opts.top = Number(values.top);
  if (values['from-us']) opts.fromUs = Number(values['from-us']);
  if (values['to-us']) opts.toUs = Number(values['to-us']);
  process.stdout.write(`${formatProfile(summarizeProfile(profile, opts))}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
