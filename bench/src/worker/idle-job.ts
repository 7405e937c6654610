/**
 * Idle connections inside one worker: open them as fast as the server accepts (bounded
 * handshakes in flight), `sync`, then only heartbeat at the interval the server asks for.
 * Raw sockets (`raw-socket.ts`): with `ws` the generator, not the server, limited connects/s.
 */
import { RawSocket, maskedFrame } from '../raw-socket.js';
import { now, sleepUntil } from '../clock.js';
import { Histogram } from '../histogram.js';
import type { HistogramData } from '../histogram.js';
import { openBounded } from './rpc.js';

export interface IdleTask {
  url: string;
  localAddress?: string | undefined;
  /**
   * With `localAddress`: source ports are handed out from here up (skipping ports in use),
   * instead of letting the kernel search its ephemeral range (see `RawOpenOptions.localPort`).
   */
  firstPort?: number | undefined;
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

/** The heartbeat wheel turns this often: each turn pings one slot's sockets. */
const WHEEL_TICK_MS = 100;

export class IdleJob {
  private readonly sockets: RawSocket[] = [];
  /** Sockets by heartbeat phase: one timer for the job instead of one per socket. */
  private wheel: RawSocket[][] = [];
  private wheelTimer: NodeJS.Timeout | undefined;
  private slot = 0;
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
        const { socket, ready } = await this.open(token);
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
        // `sync` went out with the upgrade. Heartbeat as the server asks, at a random phase
        // so pings spread out.
        this.startWheel(ready.heartbeatMs);
        (this.wheel[Math.floor(Math.random() * this.wheel.length)] as RawSocket[]).push(socket);
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

  private nextPort = 0;

  /** Open one socket; with a source address, on the next free source port. */
  private async open(token: string): Promise<Awaited<ReturnType<typeof RawSocket.open>>> {
    const { url, localAddress, firstPort } = this.task;
    if (!localAddress || firstPort === undefined) return RawSocket.open({ url, token, sync: null });
    for (let attempt = 0; ; attempt++) {
      const localPort = firstPort + this.nextPort++;
      if (localPort > 65535) throw new Error('out of source ports');
      try {
        return await RawSocket.open({ url, token, localAddress, localPort, sync: null });
      } catch (err) {
        // Taken by a listener on 0.0.0.0 or a socket of an earlier run: try the next one.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' || attempt >= 100) throw err;
      }
    }
  }

  private static readonly PING = maskedFrame(0x1, Buffer.from(JSON.stringify({ type: 'ping' })));

  /** One interval for every socket of the job: each tick pings the sockets of one slot. */
  private startWheel(heartbeatMs: number): void {
    if (this.wheelTimer) return;
    const slots = Math.max(1, Math.round(heartbeatMs / WHEEL_TICK_MS));
    this.wheel = Array.from({ length: slots }, () => []);
    this.wheelTimer = setInterval(() => {
      const due = this.wheel[this.slot] as RawSocket[];
      this.slot = (this.slot + 1) % slots;
      for (const s of due) {
        if (!s.open) continue;
        s.sendFrame(IdleJob.PING);
        this.pings++;
      }
    }, heartbeatMs / slots);
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
    clearInterval(this.wheelTimer);
    await Promise.all(
      this.sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s.open) return resolve();
            const timer = setTimeout(() => {
              s.terminate();
              resolve();
            }, 5000);
            void s.closed.then(() => {
              clearTimeout(timer);
              resolve();
            });
            s.close();
          }),
      ),
    );
  }
}
