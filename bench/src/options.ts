/** Command-line options of `npm run bench`, with their defaults. */
import { parseArgs } from 'node:util';

export const SCENARIOS = ['dm', 'group', 'idle', 'sync', 'history', 'search', 'media', 'relay'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  scenarios: ScenarioName[];
  /** Client connections (dm/relay: 1000 = 500 pairs; group: 1000 = 10 groups; idle 1000; sync 1000; history 200). */
  clients: number | undefined;
  /** Offered messages/s across all clients; 0 = as fast as the window allows. Default 0 (history: 5000). */
  rate: number | undefined;
  /** Measured window, s. Default 10 (idle: how long connections are held). */
  duration: number;
  /** Sending before the window opens, s. Default 2 (0.5 when --duration is under 5). */
  warmup: number | undefined;
  /**
   * With a fixed --rate: the offered rate rises linearly from 0 over this many seconds at the
   * start of the warmup (at most the warmup), as a load test's ramp-up does. Default 0: the
   * full rate from the first send, on processes that have just started.
   */
  ramp: number;
  /** Longest wait for outstanding acks and deliveries after sending stops, s. Default 10. */
  drain: number;
  /** Most unacked sends per client. Default 8 for --rate 0 in dm/relay/history, 1 in group, 1000 at a fixed rate. */
  window: number | undefined;
  /** Load-generator processes. Default 2 (idle and sync: one per 9,000 connections, at least 2). */
  workers: number | undefined;
  /** A running server to measure instead of starting one, e.g. http://127.0.0.1:8080. */
  target: string | undefined;
  cluster: boolean;
  /** With `cluster`: databases of the store. */
  shards: number;
  /** Write the result (or an array of results) to this file. */
  json: string | undefined;
  /** Runs per scenario; the result has medians (lost/duplicated summed) and every run. Default 1. */
  repeat: number;
  /** After dm, run the relay with the same parameters and report dm / relay. */
  compareRelay: boolean;
  /** Characters per message text. Default 100. */
  textChars: number;
  /** Members per group, creator included. Default 100. */
  groupSize: number;
  /** Messages in the history conversation. Default 1,000,000. */
  historySize: number;
  /** History pages read per second during the history run. Default 200. */
  pageRate: number;
  /** Messages stored before the search run (appended to the store directly). Default 1,000,000. */
  searchSize: number;
  /** Searches per second during the search run. Default 20. */
  searchRate: number;
  /** Uploads per second during the media run (9 in 10 photos of ~1 MB, 1 a 10 MB file). Default 50. */
  uploadRate: number;
  /** Messages each offline client misses in `sync`. Default 20. */
  missed: number;
  /**
   * WebSocket handshakes in flight, in total over the workers. Default 256: the server's
   * listen backlog is 511, and a full accept queue drops SYNs (retried after 1 s, 3 s...).
   */
  connectConcurrency: number;
  /** Run the server with --cpu-prof into this directory and print the top self-time functions. */
  profile: string | undefined;
  /** Run dm at each of these rates (msgs/s) instead of the scenarios. */
  sweep: number[] | undefined;
  /** Write an SVG chart of p50/p99 latency against offered load (from --sweep or --from files). */
  chart: string | undefined;
  /** JSON result files to chart. */
  from: string[];
  keepData: boolean;
  /**
   * On a shared machine: before each run, wait (up to 10 minutes) until the machine's busy
   * CPU has stayed at or below this % (200 = 2 cores) for 3 s. Default: don't wait.
   */
  waitQuiet: number | undefined;
  /**
   * Rerun (at most 5 times) a run during which other processes used more than this % CPU
   * (other_cpu_pct); rejected runs are counted in `rejected_runs`. Default: keep every run.
   */
  maxOther: number | undefined;
  /**
   * Spread the workers over this many source addresses in 127.0.0.0/8 (0 = let the kernel
   * pick). Default: `idle` one per worker with source ports it picks itself; the rest 0.
   */
  sourceAddresses: number | undefined;
  /** The server CLI to start (e.g. a snapshot of packages/server/dist). Default: packages/server/dist/cli.js. */
  serverCli: string | undefined;
  /** Where the embedded server's temp data dir goes (e.g. /dev/shm to take the disk out). Default: OS temp dir. */
  dataParent: string | undefined;
  /** Extra flags for the embedded server, e.g. --server-arg=--max-batch=1024 (repeatable). */
  serverArgs: string[];
}

export const USAGE = `Usage: npm run bench -- --scenario NAME[,NAME...] [options]

Scenarios: ${SCENARIOS.join(', ')}

  --clients N              client connections (default per scenario)
  --rate R                 offered messages/s across all clients; 0 = max with a window (default 0)
  --duration S             measured window, s (default 10)
  --warmup S               sending before the window opens, s (default 2)
  --ramp S                 with --rate: rise from 0 to the rate over the first S s of the warmup
                           (default 0: full rate from the first send)
  --drain S                wait for late acks/deliveries, s (default 10)
  --window W               unacked sends per client
  --workers N              load-generator processes (default: as few as do the work: dm and
                           history 1 up to 6,000 msgs/s and 2 above or at --rate 0; idle one per
                           19,000 connections; sync one per 9,000, at least 2; group 2)
  --target URL             measure a running server instead of starting one
  --cluster                start the local cluster: 1 API + 3 chat servers on PostgreSQL + Redis
                           (PARLEY_BENCH_PG_URL, PARLEY_BENCH_REDIS_URL; own database and key prefix)
  --shards N               with --cluster: the store on N databases of that PostgreSQL (default 1)
  --json FILE              write the result(s) as JSON
  --repeat K               run K times; report medians
  --compare-relay          with dm: also run the relay and report the ratio
  --text-chars N           message length (default 100)
  --group-size N           members per group (default 100)
  --history-size N         messages in the history conversation (default 1000000)
  --page-rate N            history pages/s (default 200)
  --search-size N          messages stored before the search run (default 1000000)
  --search-rate N          searches/s during the search run (default 20)
  --upload-rate N          uploads/s during the media run: 9 in 10 ~1 MB JPEG photos
                           (thumbnailed), 1 a 10 MB file, each then sent in a message (default 50)
  --missed M               messages each offline client misses in sync (default 20)
  --connect-concurrency N  handshakes in flight over all workers (default 256)
  --profile DIR            run the server with --cpu-prof and summarize the window
  --sweep R1,R2,...        run dm at each rate; with --chart, draw p50/p99 against load
  --chart FILE.svg         write the latency chart (from --sweep, or --from FILE.json ...)
  --server-arg=--flag=v    extra server flag (repeatable)
  --keep-data              keep the server's temp data dir
  --wait-quiet PCT         before each run, wait until other load stays <= PCT% CPU for 3 s
  --max-other PCT          rerun a run when other processes used > PCT% CPU during it
  --source-addresses N     bind workers to N addresses 127.0.0.11.. (0: kernel picks; default
                           idle: one per worker, others 0)
  --server-cli PATH        server to start (default packages/server/dist/cli.js)
  --data-parent DIR        create the server's data dir under DIR (e.g. /dev/shm)
Env: BENCH_SERVER_NODE_OPTIONS adds node flags to the server process (e.g. "--cpu-prof"),
     BENCH_WORKER_NODE_OPTIONS to the load generator's workers; BENCH_WORKER_NICE=N runs the
     workers at nice level N (a diagnostic: how much a figure owes to sharing the cores).
`;

function num(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`);
  return n;
}

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      scenario: { type: 'string' },
      clients: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      ramp: { type: 'string' },
      drain: { type: 'string' },
      window: { type: 'string' },
      workers: { type: 'string' },
      target: { type: 'string' },
      cluster: { type: 'boolean', default: false },
      shards: { type: 'string' },
      json: { type: 'string' },
      repeat: { type: 'string' },
      'compare-relay': { type: 'boolean', default: false },
      'text-chars': { type: 'string' },
      'group-size': { type: 'string' },
      'history-size': { type: 'string' },
      'page-rate': { type: 'string' },
      'search-size': { type: 'string' },
      'search-rate': { type: 'string' },
      'upload-rate': { type: 'string' },
      missed: { type: 'string' },
      'connect-concurrency': { type: 'string' },
      profile: { type: 'string' },
      sweep: { type: 'string' },
      chart: { type: 'string' },
      from: { type: 'string', multiple: true },
      'keep-data': { type: 'boolean', default: false },
      'data-parent': { type: 'string' },
      'server-cli': { type: 'string' },
      'source-addresses': { type: 'string' },
      'wait-quiet': { type: 'string' },
      'max-other': { type: 'string' },
      'server-arg': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const names = (values.scenario ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const n of names) {
    if (!(SCENARIOS as readonly string[]).includes(n)) {
      throw new Error(`unknown scenario "${n}" (one of ${SCENARIOS.join(', ')})`);
    }
  }
  const from = [...(values.from ?? []), ...positionals];
  const sweep = values.sweep?.split(',').map((r) => num('sweep', r) as number);
  if (names.length === 0 && !sweep && !(values.chart && from.length > 0) && !values.cluster) {
    throw new Error('--scenario is required');
  }
  if (values.cluster && values.target) throw new Error('--cluster and --target exclude each other');
  if (values.cluster && (values['data-parent'] || values['keep-data'])) {
    throw new Error('--data-parent and --keep-data are for the embedded server, not --cluster');
  }
  const shards = num('shards', values.shards) ?? 1;
  if (!Number.isInteger(shards) || shards < 1 || shards > 64) throw new Error('--shards must be 1-64');
  if (shards > 1 && !values.cluster) throw new Error('--shards is for --cluster');
  const textChars = num('text-chars', values['text-chars']) ?? 100;
  if (textChars < 20 || textChars > 99_999) throw new Error('--text-chars must be 20-99999');
  return {
    scenarios: names as ScenarioName[],
    clients: num('clients', values.clients),
    rate: num('rate', values.rate),
    duration: num('duration', values.duration) ?? 10,
    warmup: num('warmup', values.warmup),
    ramp: num('ramp', values.ramp) ?? 0,
    drain: num('drain', values.drain) ?? 10,
    window: num('window', values.window),
    workers: num('workers', values.workers),
    target: values.target,
    cluster: values.cluster ?? false,
    shards: shards,
    json: values.json,
    repeat: Math.max(1, num('repeat', values.repeat) ?? 1),
    compareRelay: values['compare-relay'] ?? false,
    textChars,
    groupSize: num('group-size', values['group-size']) ?? 100,
    historySize: num('history-size', values['history-size']) ?? 1_000_000,
    pageRate: num('page-rate', values['page-rate']) ?? 200,
    searchSize: num('search-size', values['search-size']) ?? 1_000_000,
    searchRate: num('search-rate', values['search-rate']) ?? 20,
    uploadRate: num('upload-rate', values['upload-rate']) ?? 50,
    missed: num('missed', values.missed) ?? 20,
    connectConcurrency: num('connect-concurrency', values['connect-concurrency']) ?? 256,
    profile: values.profile,
    sweep,
    chart: values.chart,
    from,
    keepData: values['keep-data'] ?? false,
    dataParent: values['data-parent'],
    serverCli: values['server-cli'],
    waitQuiet: num('wait-quiet', values['wait-quiet']),
    maxOther: num('max-other', values['max-other']),
    sourceAddresses: num('source-addresses', values['source-addresses']),
    serverArgs: values['server-arg'] ?? [],
  };
}
