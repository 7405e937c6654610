/**
 * The reconnect storm inside one worker: connect and sync every client, go offline, then
 * (after the coordinator has sent each client's conversation `expected` messages) reconnect
 * all at once with `since` = the last cursor seen, and time the catch-up.
 */
import type { ServerFrame } from '@parley/protocol';
import { BenchSocket } from '../bench-socket.js';
import { now, sleepUntil } from '../clock.js';
import { Histogram } from '../histogram.js';
import type { HistogramData } from '../histogram.js';
import { SeqSet, openBounded } from './rpc.js';

export interface SyncClientSpec {
  token: string;
  conversationId: string;
}

export interface SyncTask {
  url: string;
  localAddress?: string | undefined;
  clients: SyncClientSpec[];
  connectConcurrency: number;
}

export interface SyncReport {
  /** `now()` of the first reconnect and of the last client fully caught up. */
  firstStart: number;
  lastDone: number;
  caughtUp: number;
  failed: number;
  errors: Record<string, number>;
  received: number;
  lost: number;
  duplicated: number;
  /** Reconnect start → `synced` with every missed message, per client. */
  catchupLatency: HistogramData;
}

interface Client {
  spec: SyncClientSpec;
  socket: BenchSocket | null;
  /** Feed cursor to resume from (from `ready`, then `synced`). */
  cursor: string;
  seen: SeqSet;
}

export class SyncJob {
  private readonly clients: Client[];

  constructor(private readonly task: SyncTask) {
    this.clients = task.clients.map((spec) => ({ spec, socket: null, cursor: '0', seen: new SeqSet() }));
  }

  /** First connection: sync from now and remember the cursor. */
  async connect(): Promise<{ connected: number; failed: number; error?: string }> {
    let failed = 0;
    let error: string | undefined;
    await openBounded(this.clients, this.task.connectConcurrency, async (c) => {
      try {
        const { socket, ready } = await BenchSocket.open({
          url: this.task.url,
          token: c.spec.token,
          localAddress: this.task.localAddress,
        });
        c.socket = socket;
        c.cursor = ready.cursor;
        await new Promise<void>((resolve) => {
          socket.onFrame = (f) => {
            if (f.type === 'synced') {
              c.cursor = f.cursor;
              resolve();
            }
          };
          socket.send({ type: 'sync', since: null });
        });
      } catch (err) {
        failed++;
        error ??= err instanceof Error ? err.message : String(err);
      }
    });
    return { connected: this.clients.length - failed, failed, ...(error ? { error } : {}) };
  }

  /** Go offline: close every socket and wait until closed. */
  async disconnect(): Promise<void> {
    await Promise.all(
      this.clients.map(
        (c) =>
          new Promise<void>((resolve) => {
            const s = c.socket;
            c.socket = null;
            if (!s || !s.open) return resolve();
            s.ws.once('close', () => resolve());
            s.close();
          }),
      ),
    );
  }

  /** Reconnect every client at `startAt` with `since` = its last cursor; expect `expected` messages each. */
  async reconnect(params: { startAt: number; expected: number; timeoutMs: number }): Promise<SyncReport> {
    await sleepUntil(params.startAt);
    const hist = new Histogram();
    const errors: Record<string, number> = {};
    let failed = 0;
    let caughtUp = 0;
    let received = 0;
    let duplicated = 0;
    const firstStart = now();
    let lastDone = firstStart;
    let finished = 0;
    let allDone: () => void = () => {};
    const all = new Promise<void>((resolve) => (allDone = resolve));
    const finish = (): void => {
      if (++finished === this.clients.length) allDone();
    };
    const fail = (err: unknown): void => {
      failed++;
      const key = (err instanceof Error ? err.message : String(err)).slice(0, 80);
      errors[key] = (errors[key] ?? 0) + 1;
      finish();
    };
    await openBounded(this.clients, this.task.connectConcurrency, async (c) => {
      const t0 = now();
      let socket: BenchSocket;
      try {
        ({ socket } = await BenchSocket.open({
          url: this.task.url,
          token: c.spec.token,
          localAddress: this.task.localAddress,
        }));
      } catch (err) {
        fail(err);
        return;
      }
      c.socket = socket;
      // The catch-up of this client runs on; the next handshake does not wait for it.
      let over = false;
      const timer = setTimeout(() => {
        over = true;
        fail(new Error('catch-up timed out'));
      }, params.timeoutMs);
      socket.onFrame = (f: ServerFrame) => {
        if (over) return;
        if (f.type === 'message') {
          if (f.message.conversationId !== c.spec.conversationId) return;
          received++;
          if (!c.seen.add(f.message.seq)) duplicated++;
        } else if (f.type === 'synced') {
          over = true;
          clearTimeout(timer);
          const t = now();
          hist.recordMs(t - t0);
          if (t > lastDone) lastDone = t;
          caughtUp++;
          finish();
        }
      };
      socket.onClose = (code) => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        fail(new Error(`closed during catch-up (${code})`));
      };
      socket.send({ type: 'sync', since: c.cursor });
    });
    if (this.clients.length === 0) allDone();
    await all;
    let lost = 0;
    for (const c of this.clients) lost += Math.max(0, params.expected - c.seen.count);
    return {
      firstStart,
      lastDone,
      caughtUp,
      failed,
      errors,
      received,
      lost,
      duplicated,
      catchupLatency: hist.toData(),
    };
  }

  close(): void {
    for (const c of this.clients) c.socket?.close();
  }
}
