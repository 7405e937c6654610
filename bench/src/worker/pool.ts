/**
 * The coordinator's side of the worker processes: fork N copies of worker/main.js, call a
 * method on one or all of them, and stop them. Processes, not threads: each gets its own
 * event loop, heap and open-files budget (20,000 here), and they spread over the cores.
 */
import { fork } from 'node:child_process';
import { setPriority } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RpcRequest, RpcResponse } from './rpc.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./main.js', import.meta.url));

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class WorkerPool {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(private readonly children: ChildProcess[]) {
    for (const child of children) {
      child.on('message', (msg: RpcResponse) => {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if ('error' in msg) p.reject(new Error(msg.error));
        else p.resolve(msg.result);
      });
      child.on('exit', (code, signal) => {
        if (code === 0 || signal === 'SIGTERM') return;
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          p.reject(new Error(`bench worker ${child.pid} exited (code ${code}, signal ${signal})`));
        }
      });
    }
  }

  /**
   * Fork `n` workers (node flags from BENCH_WORKER_NODE_OPTIONS, e.g. "--cpu-prof"). With
   * BENCH_WORKER_NICE=N they run at that nice level: a way to see how much of a figure is the
   * load generator competing with the server for the same cores (a diagnostic: the report's
   * figures use the default, 0).
   */
  static start(n: number): WorkerPool {
    const execArgv = (process.env.BENCH_WORKER_NODE_OPTIONS ?? '').split(/\s+/).filter((s) => s.length > 0);
    const nice = Number(process.env.BENCH_WORKER_NICE ?? 0);
    const children = Array.from({ length: n }, () => {
      const child = fork(WORKER_SCRIPT, [], {
        execArgv,
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      if (nice !== 0 && child.pid !== undefined) setPriority(child.pid, nice);
      return child;
    });
    return new WorkerPool(children);
  }

  get size(): number {
    return this.children.length;
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid ?? 0).filter((p) => p > 0);
  }

  call<R>(worker: number, method: string, params: unknown = null): Promise<R> {
    const child = this.children[worker];
    if (!child) throw new Error(`no worker ${worker}`);
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      const req: RpcRequest = { id, method, params };
      child.send(req);
    });
  }

  /** Call `method` on every worker, with per-worker params. */
  all<R>(method: string, params: (worker: number) => unknown = () => null): Promise<R[]> {
    return Promise.all(this.children.map((_, i) => this.call<R>(i, method, params(i))));
  }

  async close(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const timer = setTimeout(() => {
              c.kill('SIGKILL');
              resolve();
            }, 5000);
            c.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
  }
}

/** Split `items` into `n` parts round-robin (item i goes to part i mod n). */
export function roundRobin<T>(items: readonly T[], n: number): T[][] {
  const parts: T[][] = Array.from({ length: n }, () => []);
  items.forEach((item, i) => (parts[i % n] as T[]).push(item));
  return parts;
}

/**
 * Source address for worker `i`: 127.0.0.(11 + i mod n) when the target is on loopback and
 * `n` > 0; undefined (the kernel picks) otherwise. Binding a source address with port 0 costs
 * a bind() with a port search per connection, which grows with the sockets (and TIME_WAIT
 * entries) already bound: measured here it made handshakes several times slower, so load
 * scenarios leave it off by default; `idle` uses it with source ports it picks itself.
 */
export function localAddressFor(targetUrl: string, worker: number, n: number): string | undefined {
  const host = new URL(targetUrl).hostname;
  if (n <= 0 || (host !== '127.0.0.1' && host !== 'localhost')) return undefined;
  return `127.0.0.${11 + (worker % Math.min(n, 200))}`;
}
