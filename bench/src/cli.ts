#!/usr/bin/env node
/**
 * `npm run bench -- --scenario NAME [options]`: run Parley load scenarios and print a table;
 * `--json FILE` writes the result (an object; an array for several scenarios or a sweep).
 * Exits 1 when a run lost or duplicated messages or clients failed, 2 on bad usage.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { latencyChart, resultsFromJson } from './chart.js';
import { USAGE, parseOptions } from './options.js';
import type { BenchOptions } from './options.js';
import { failures, formatTable, REQUIRED_FIELDS } from './result.js';
import { codeVersion, machine, runBench } from './run.js';

const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let opts: BenchOptions | 'help';
  try {
    opts = parseOptions(argv);
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (opts.chart && opts.from.length > 0 && opts.scenarios.length === 0 && !opts.sweep) {
    const results = resultsFromJson(opts.from.map((f) => JSON.parse(readFileSync(f, 'utf8')) as unknown));
    writeFileSync(opts.chart, latencyChart(results, 'Parley dm: latency against offered load'));
    log(`wrote ${opts.chart} from ${results.length} results`);
    return 0;
  }
  const results = await runBench(opts, log);
  const info = machine();
  const version = codeVersion();
  const command = `npm run bench -- ${argv.join(' ')}`;
  for (const r of results) {
    r.machine = info;
    r.command = command;
    r.code_version = version;
    if (opts.serverCli) r.server_cli = opts.serverCli;
    for (const f of REQUIRED_FIELDS) if (!(f in r)) throw new Error(`result of ${r.scenario} lacks ${f}`);
  }
  process.stdout.write(`\n${formatTable(results)}\n`);
  process.stdout.write(`\nmachine: ${info.nproc} × ${info.cpu}, Node ${info.node}\n`);
  if (opts.json) {
    const single = results.length === 1 && !opts.sweep;
    writeFileSync(opts.json, `${JSON.stringify(single ? results[0] : results, null, 2)}\n`);
    log(`wrote ${opts.json}`);
  }
  if (opts.chart) {
    const title = opts.cluster
      ? 'Parley dm on the local cluster (1 API + 3 chat servers): latency against offered load'
      : 'Parley dm: latency against offered load';
    writeFileSync(opts.chart, latencyChart(results, title));
    log(`wrote ${opts.chart}`);
  }
  const bad = results.flatMap(failures);
  if (bad.length > 0) {
    process.stderr.write(`bench: FAILED: ${bad.join('; ')}\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
