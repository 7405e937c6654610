/**
 * Entry of a bench worker process (forked by WorkerPool). It holds at most one job of each
 * kind and answers the coordinator's calls; it exits when the coordinator goes away.
 */
import { IdleJob } from './idle-job.js';
import type { IdleTask } from './idle-job.js';
import { LoadJob } from './load-job.js';
import type { LoadTask, LoadTiming } from './load-job.js';
import type { RpcRequest, RpcResponse } from './rpc.js';
import { runUploads } from './media-job.js';
import type { MediaTask } from './media-job.js';
import { readPages } from './pages-job.js';
import type { PagesTask } from './pages-job.js';
import { runSearches } from './search-job.js';
import type { SearchTask } from './search-job.js';
import { SyncJob } from './sync-job.js';
import type { SyncTask } from './sync-job.js';

let load: LoadJob | null = null;
let idle: IdleJob | null = null;
let sync: SyncJob | null = null;

function need<T>(job: T | null, name: string): T {
  if (!job) throw new Error(`no ${name} job in this worker`);
  return job;
}

const methods: Record<string, (params: never) => unknown> = {
  'load.connect': (task: LoadTask) => {
    load = new LoadJob(task);
    return load.connect();
  },
  'load.run': (timing: LoadTiming) => need(load, 'load').run(timing),
  'load.close': () => {
    need(load, 'load').close();
    load = null;
  },
  'idle.connect': (p: { task: IdleTask; startAt: number }) => {
    idle = new IdleJob(p.task);
    return idle.connect(p.startAt);
  },
  'idle.stats': () => need(idle, 'idle').stats(),
  'idle.close': async () => {
    await need(idle, 'idle').close();
    idle = null;
  },
  'pages.read': (task: PagesTask) => readPages(task),
  'search.run': (task: SearchTask) => runSearches(task),
  'media.run': (task: MediaTask) => runUploads(task),
  'sync.connect': (task: SyncTask) => {
    sync = new SyncJob(task);
    return sync.connect();
  },
  'sync.disconnect': () => need(sync, 'sync').disconnect(),
  'sync.reconnect': (p: { startAt: number; expected: number; timeoutMs: number }) =>
    need(sync, 'sync').reconnect(p),
  'sync.close': () => {
    need(sync, 'sync').close();
    sync = null;
  },
};

process.on('message', (req: RpcRequest) => {
  const reply = (res: RpcResponse): void => {
    process.send?.(res);
  };
  const fn = methods[req.method];
  if (!fn) return reply({ id: req.id, error: `unknown method ${req.method}` });
  Promise.resolve()
    .then(() => fn(req.params as never))
    .then(
      (result) => reply({ id: req.id, result: result ?? null }),
      (err: unknown) =>
        reply({ id: req.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
