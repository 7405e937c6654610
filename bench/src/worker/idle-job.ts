/**
 * Idle connections inside one worker: open them as fast as the server accepts (bounded
 * handshakes in flight), `sync`, then only heartbeat at the interval the server asks for.
 */
import { BenchSocket } from '../bench-socket.js';
import { now, sleepUntil } from '../clock.js';
import { Histogram } from '../histogram.js';
import type { HistogramData } from '../histogram.js';
import { openBounded } from './rpc.js';

export interface IdleTask {
  url: string;
  localAddress?: string | undefined;
  tokens: string[];
  connectConcurrency: number;
}

export interface IdleConnectReport {
  /** `now()` when the first handshake started and when the last `ready` arrived. */
  firstStart: number;
  lastReady: number;
  connected: number;
  failed: number;
  errors: Record<string, number>;
  /** Handshake start → `ready`. */
  connectLatency: HistogramData;
}

export interface IdleStats {
  open: number;
  closedByServer: number;
  pings: number;
  pongs: number;
}

export class IdleJob {
  private readonly sockets: BenchSocket[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private pings = 0;
  private pongs = 0;
  private closedByServer = 0;
  private closing = false;

  constructor(private readonly task: IdleTask) {}

  async connect(startAt: number): Promise<IdleConnectReport> {
    await sleepUntil(startAt);
    const hist = new Histogram();
    const errors: Record<string, number> = {};
    let failed = 0;
    const firstStart = now();
    let lastReady = firstStart;
    await openBounded(this.task.tokens, this.task.connectConcurrency, async (token) => {
      const t0 = now();
      try {
        const { socket, ready } = await BenchSocket.open({
          url: this.task.url,
          token,
          localAddress: this.task.localAddress,
        });
        const t = now();
        hist.recordMs(t - t0);
        if (t > lastReady) lastReady = t;
        this.sockets.push(socket);
        socket.onFrame = (f) => {
          if (f.type === 'pong') this.pongs++;
        };
        socket.onClose = () => {
          if (!this.closing) this.closedByServer++;
        };
        socket.send({ type: 'sync', since: null });
        // Heartbeat as the server asks, starting at a random phase so pings spread out.
        const every = ready.heartbeatMs;
        const first = setTimeout(() => {
          const beat = (): void => {
            if (!socket.open) return;
            socket.send({ type: 'ping' });
            this.pings++;
          };
          beat();
          this.timers.push(setInterval(beat, every));
        }, Math.random() * every);
        this.timers.push(first);
      } catch (err) {
        failed++;
        const key = (err instanceof Error ? err.message : String(err)).slice(0, 80);
        errors[key] = (errors[key] ?? 0) + 1;
      }
    });
    return {
      firstStart,
      lastReady,
      connected: this.sockets.length,
      failed,
      errors,
      connectLatency: hist.toData(),
    };
  }

  stats(): IdleStats {
    return {
      open: this.sockets.filter((s) => s.open).length,
      closedByServer: this.closedByServer,
      pings: this.pings,
      pongs: this.pongs,
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.all(
      this.sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s.open) return resolve();
            const timer = setTimeout(() => {
              s.terminate();
              resolve();
            }, 5000);
            s.ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            s.close();
          }),
      ),
    );
  }
}
