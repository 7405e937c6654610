/** The result of one scenario run, its JSON shape, medians over repeats, and the printed table. */

/** Fields every result has (the `--json` contract) but the scenario name; scenarios add their own. */
export interface BenchFigures {
  clients: number;
  /** Length of the measured window, s (for `sync`, the catch-up time). */
  duration_s: number;
  /** Messages offered per second in the window, across all clients. */
  offered_per_s: number;
  /**
   * Message frames received per second in the window by devices other than the sending one
   * (dm: messages delivered to the partner; group: one per receiving member device).
   */
  delivered_per_s: number;
  /** Send → receipt latency percentiles, ms (idle: connect → ready; sync: reconnect → caught up). */
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  /** Deliveries missing after the drain period (per message and device), plus sends never acked. */
  lost: number;
  /** Message frames a device received more than once. */
  duplicated: number;
  /** Peak resident memory of the server process during the window, MB (null for `--target`). */
  server_rss_mb: number | null;
  /** Server CPU time (all its threads) during the window / wall time × 100 (100 = one core). */
  server_cpu_pct: number | null;
  [field: string]: unknown;
}

export interface BenchResult extends BenchFigures {
  scenario: string;
}

export const REQUIRED_FIELDS = [
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
] as const;

/** Round for display and JSON: 3 significant decimals for small values, integers for large ones. */
export function round(v: number): number {
  if (!Number.isFinite(v)) return v;
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v);
  if (a >= 10) return Math.round(v * 10) / 10;
  if (a >= 1) return Math.round(v * 100) / 100;
  return Math.round(v * 1000) / 1000;
}

/** Fields that add up over repeats instead of taking the median. */
const SUMMED = new Set(['lost', 'duplicated', 'unacked', 'failed', 'closed']);

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * Several runs of one scenario as one result: the median of each numeric field (lost,
 * duplicated and other failure counts are summed: one loss in any run shows), with every
 * run kept under `runs`.
 */
export function combineRuns(runs: BenchResult[]): BenchResult {
  const first = runs[0];
  if (!first) throw new Error('no runs');
  if (runs.length === 1) return first;
  const out: Record<string, unknown> = { ...first };
  for (const [k, v] of Object.entries(first)) {
    if (typeof v !== 'number') continue;
    const values = runs.map((r) => r[k]).filter((x): x is number => typeof x === 'number');
    out[k] = SUMMED.has(k) ? values.reduce((a, b) => a + b, 0) : round(median(values));
  }
  for (const k of ['p50_ms', 'p95_ms', 'p99_ms', 'max_ms', 'server_rss_mb', 'server_cpu_pct'] as const) {
    const values = runs.map((r) => r[k]).filter((x): x is number => typeof x === 'number');
    out[k] = values.length > 0 ? round(median(values)) : null;
  }
  out.repeat = runs.length;
  out.runs = runs.map((r) => {
    const copy: Record<string, unknown> = { ...r };
    delete copy.profile;
    return copy;
  });
  return out as BenchResult;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return String(round(v));
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    return entries.length === 0 ? '-' : entries.map(([k, x]) => `${k}:${String(x)}`).join(' ');
  }
  return String(v);
}

/** Fields not shown in the table (long or nested). */
const HIDDEN = new Set(['runs', 'profile', 'relay', 'machine', 'command', 'profile_window_us', 'server_cli']);

/** A two-or-more column table: one row per field, one column per result. */
export function formatTable(results: readonly BenchResult[]): string {
  const keys: string[] = [];
  for (const r of results)
    for (const k of Object.keys(r)) if (!HIDDEN.has(k) && !keys.includes(k)) keys.push(k);
  const rows = keys.map((k) => [k, ...results.map((r) => cell(r[k]))]);
  const widths = rows.reduce<number[]>((w, row) => row.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  const line = (row: string[]): string =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0] as string[]), sep, ...rows.slice(1).map(line)].join('\n');
}

/** The checks that make the CLI exit non-zero: loss, duplication, failed connections. */
export function failures(r: BenchResult): string[] {
  const out: string[] = [];
  if (r.lost > 0) out.push(`${r.scenario}: lost ${r.lost}`);
  if (r.duplicated > 0) out.push(`${r.scenario}: duplicated ${r.duplicated}`);
  if (typeof r.failed === 'number' && r.failed > 0) out.push(`${r.scenario}: ${r.failed} clients failed`);
  return out;
}
