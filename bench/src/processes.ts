/**
 * The processes the bench starts: an embedded Parley server (fresh temp data dir) or the bare
 * `ws` relay. Each is a separate `node` process so its CPU and memory can be read from /proc
 * and it never shares an event loop with the load generator.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { wsUrl } from './bench-socket.js';

/** packages/server/dist/cli.js, relative to bench/dist. */
export const SERVER_CLI = fileURLToPath(new URL('../../packages/server/dist/cli.js', import.meta.url));
/** bench/dist/relay-server.js. */
export const RELAY_SCRIPT = fileURLToPath(new URL('./relay-server.js', import.meta.url));

/**
 * Server flags that lift the per-IP and per-connection limits a load generator on one address
 * would hit, and make signup/login cheap (scrypt N = 2^10 instead of 2^17).
 */
export const BENCH_SERVER_FLAGS: readonly string[] = [
  '--scrypt-log-n',
  '10',
  '--auth-rate-per-min',
  '1000000',
  '--http-rate-per-min',
  '10000000',
  '--send-rate-per-sec',
  '100000',
  '--send-burst',
  '100000',
  '--send-bytes-per-sec',
  '1000000000',
  '--send-bytes-burst',
  '1000000000',
  '--frame-rate-per-sec',
  '1000000',
  '--frame-burst',
  '1000000',
  // The sync scenario's senders open hundreds of conversations each.
  '--max-new-conversations-per-hour',
  '0',
  '--log-level',
  'warn',
];

export interface ServerHandle {
  /** http://host:port: the HTTP API (the API server of a cluster). */
  url: string;
  /** The server's process id (for /proc sampling); null for a `--target` server. */
  pid: number | null;
  /** Every process of the system under test (a cluster's API and chat servers); [] for `--target`. */
  pids: number[];
  /** WebSocket endpoints to spread clients over (a cluster's chat servers). */
  wsUrls: string[];
  /** Processes of the services it runs on (PostgreSQL backends, Redis), sampled apart. */
  servicePids: number[];
  /** 'cluster' for `--cluster` (figures are summed over `pids`). */
  kind: 'embedded' | 'relay' | 'external' | 'cluster';
  /** The embedded server's data directory (its database file is `parley.db` there). */
  dataDir?: string;
  /** Stop it: SIGTERM, then SIGKILL after `timeoutMs`. Removes its temp data dir. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface StartOptions {
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir', DIR]. */
  nodeOptions?: readonly string[];
  /** Extra server flags appended after the bench defaults (later flags win). */
  serverArgs?: readonly string[];
  /** Keep the data dir after stopping (it is printed). */
  keepData?: boolean;
  /** Directory in which to create the temp data dir. Default: the OS temp dir. */
  dataParent?: string | undefined;
  /** Server CLI script. Default: SERVER_CLI. */
  serverCli?: string | undefined;
  /** Name in log lines. Default 'server'. */
  name?: string;
}

/** Node flags for the server from BENCH_SERVER_NODE_OPTIONS (space-separated), e.g. "--cpu-prof". */
export function envNodeOptions(): string[] {
  return (process.env.BENCH_SERVER_NODE_OPTIONS ?? '').split(/\s+/).filter((s) => s.length > 0);
}

/**
 * Children still running, with their cleanup. Should the bench itself end early (Ctrl-C, a
 * closed stdout pipe, a crash), they are killed and their temp dirs removed on the way out,
 * instead of running on and skewing the next run.
 */
const running = new Map<ChildProcess, () => void>();
let exitHooked = false;
function track(child: ChildProcess, cleanup: () => void): void {
  running.set(child, cleanup);
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    for (const [c, clean] of running) {
      c.kill('SIGKILL');
      clean();
    }
  });
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.once(sig, () => process.exit(code));
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Spawn `node [nodeOptions] script args` and wait for its `{"msg":"listening","port":N}` line
 * on stdout. Other stdout lines (warnings and errors at --log-level warn) are copied to stderr.
 */
async function spawnListening(
  name: string,
  script: string,
  args: readonly string[],
  nodeOptions: readonly string[],
  cleanup: () => void,
): Promise<ServerHandle> {
  const child = spawn(process.execPath, [...nodeOptions, script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  track(child, cleanup);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s`)), 60_000);
    let listening = false;
    lines.on('line', (line) => {
      if (!listening) {
        try {
          const rec = JSON.parse(line) as { msg?: string; port?: number };
          if (rec.msg === 'listening' && typeof rec.port === 'number') {
            listening = true;
            clearTimeout(timer);
            resolve(rec.port);
            return;
          }
        } catch {
          // not JSON: fall through and show it
        }
      }
      if (!/"msg":"(listening|stopped|shutting down)"/.test(line))
        process.stderr.write(`[${name}] ${line}\n`);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before listening (code ${code}, signal ${signal})`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  }).catch(async (err: unknown) => {
    child.kill('SIGKILL');
    await waitExit(child, 5000);
    running.delete(child);
    cleanup();
    throw err;
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    pid: child.pid ?? null,
    pids: child.pid ? [child.pid] : [],
    wsUrls: [wsUrl(url)],
    servicePids: [],
    kind: name === 'relay' ? 'relay' : 'embedded',
    async stop(timeoutMs = 20_000) {
      child.kill('SIGTERM');
      if (!(await waitExit(child, timeoutMs))) {
        process.stderr.write(`[${name}] did not exit ${timeoutMs} ms after SIGTERM; sending SIGKILL\n`);
        child.kill('SIGKILL');
        await waitExit(child, 5000);
      }
      running.delete(child);
      cleanup();
    },
  };
}

/** Start an embedded Parley server on a free port with a fresh temp data dir. */
export function startParley(opts: StartOptions = {}): Promise<ServerHandle> {
  const dataDir = mkdtempSync(join(opts.dataParent ?? tmpdir(), 'parley-bench-'));
  const args = [
    'serve',
    '--port',
    '0',
    '--data-dir',
    dataDir,
    ...BENCH_SERVER_FLAGS,
    ...(opts.serverArgs ?? []),
  ];
  return spawnListening(
    opts.name ?? 'server',
    opts.serverCli ?? SERVER_CLI,
    args,
    [...envNodeOptions(), ...(opts.nodeOptions ?? [])],
    () => {
      if (opts.keepData) process.stderr.write(`kept data dir ${dataDir}\n`);
      else rmSync(dataDir, { recursive: true, force: true });
    },
  ).then((server) => Object.assign(server, { dataDir }));
}

/** Start the bare `ws` relay (relay-server.ts) on a free port. */
export function startRelay(opts: StartOptions = {}): Promise<ServerHandle> {
  return spawnListening('relay', RELAY_SCRIPT, [], opts.nodeOptions ?? [], () => {});
}

/** A server the bench did not start (`--target`). */
export function externalServer(url: string): ServerHandle {
  const base = url.replace(/\/+$/, '');
  return {
    url: base,
    pid: null,
    pids: [],
    wsUrls: [wsUrl(base)],
    servicePids: [],
    kind: 'external',
    stop: async () => {},
  };
}
