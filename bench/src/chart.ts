/**
 * An SVG chart of p50 and p99 latency against offered load, from bench results (one series
 * per scenario; points sorted by offered load). Log-scale latency axis: near saturation p99
 * grows by orders of magnitude.
 */
import type { BenchResult } from './result.js';

interface Point {
  x: number;
  y: number;
}

const W = 760;
const H = 440;
const M = { left: 70, right: 170, top: 40, bottom: 66 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const n = raw / mag;
  return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
}

/** Render the chart. `title` defaults to a description of the data. */
export function latencyChart(results: readonly BenchResult[], title?: string): string {
  const bySeries = new Map<string, BenchResult[]>();
  for (const r of results) {
    if (typeof r.offered_per_s !== 'number' || typeof r.p50_ms !== 'number' || typeof r.p99_ms !== 'number')
      continue;
    const list = bySeries.get(r.scenario) ?? [];
    list.push(r);
    bySeries.set(r.scenario, list);
  }
  const all = [...bySeries.values()].flat();
  if (all.length === 0) throw new Error('no results with offered_per_s, p50_ms and p99_ms to chart');
  const xMax = Math.max(...all.map((r) => r.offered_per_s)) * 1.05;
  const yValues = all.flatMap((r) => [r.p50_ms as number, r.p99_ms as number]).filter((v) => v > 0);
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...yValues)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...yValues)));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number): number => M.left + (x / xMax) * pw;
  const sy = (y: number): number =>
    M.top +
    ph -
    ((Math.log10(Math.max(y, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="22" font-size="15" font-weight="bold">${esc(title ?? 'Latency against offered load')}</text>`,
  );
  // Grid and axes.
  const xStep = niceStep(xMax, 6);
  for (let x = 0; x <= xMax; x += xStep) {
    out.push(
      `<line x1="${sx(x)}" y1="${M.top}" x2="${sx(x)}" y2="${M.top + ph}" stroke="#eee"/>`,
      `<text x="${sx(x)}" y="${M.top + ph + 18}" text-anchor="middle">${Math.round(x).toLocaleString('en-US')}</text>`,
    );
  }
  for (let e = Math.log10(yMin); e <= Math.log10(yMax) + 1e-9; e++) {
    for (const mult of [1, 2, 5]) {
      const y = mult * 10 ** e;
      if (y > yMax * 1.0001) continue;
      out.push(
        `<line x1="${M.left}" y1="${sy(y)}" x2="${M.left + pw}" y2="${sy(y)}" stroke="${mult === 1 ? '#ddd' : '#f3f3f3'}"/>`,
        `<text x="${M.left - 6}" y="${sy(y) + 4}" text-anchor="end">${y >= 1 ? y : y.toPrecision(1)}</text>`,
      );
    }
  }
  out.push(
    `<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`,
    `<text x="${M.left + pw / 2}" y="${H - 24}" text-anchor="middle">offered load (messages/s)</text>`,
    `<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">latency, ms (log scale)</text>`,
  );
  let legendY = M.top + 10;
  let color = 0;
  for (const [name, list] of bySeries) {
    const sorted = [...list].sort((a, b) => a.offered_per_s - b.offered_per_s);
    const c = COLORS[color++ % COLORS.length] as string;
    for (const [field, dash] of [
      ['p50_ms', ''],
      ['p99_ms', ' stroke-dasharray="6 4"'],
    ] as const) {
      const pts: Point[] = sorted.map((r) => ({ x: r.offered_per_s, y: r[field] as number }));
      out.push(
        `<polyline fill="none" stroke="${c}" stroke-width="2"${dash} points="${pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`,
        ...pts.map(
          (p) =>
            `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="${field === 'p50_ms' ? c : 'white'}" stroke="${c}"><title>${esc(name)} ${field.replace('_ms', '')} ${p.y} ms at ${Math.round(p.x)}/s</title></circle>`,
        ),
      );
      const lx = M.left + pw + 14;
      out.push(
        `<line x1="${lx}" y1="${legendY}" x2="${lx + 26}" y2="${legendY}" stroke="${c}" stroke-width="2"${dash}/>`,
        `<text x="${lx + 32}" y="${legendY + 4}">${esc(name)} ${field.replace('_ms', '')}</text>`,
      );
      legendY += 20;
    }
  }
  // Past saturation the server delivers less than is offered: say so under the chart.
  const saturated = all
    .filter((r) => r.delivered_per_s < 0.97 * r.offered_per_s)
    .sort((a, b) => a.offered_per_s - b.offered_per_s)
    .map(
      (r) =>
        `${r.scenario} at ${Math.round(r.offered_per_s).toLocaleString('en-US')}/s offered: ` +
        `${Math.round(r.delivered_per_s).toLocaleString('en-US')}/s delivered`,
    );
  if (saturated.length > 0) {
    out.push(
      `<text x="${M.left}" y="${H - 4}" font-size="11" fill="#555">Saturated: ${esc(saturated.join('; '))}</text>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Results from JSON files written by `--json` (an object, an array, or an object with `runs`). */
export function resultsFromJson(values: readonly unknown[]): BenchResult[] {
  const out: BenchResult[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object' && 'scenario' in v) out.push(v as BenchResult);
  };
  values.forEach(visit);
  return out;
}
