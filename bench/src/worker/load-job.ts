/**
 * The message workload (dm, group, relay, and history's background dm) inside one worker:
 * every conversation's members live in the same worker, so receipts, acks and the send
 * timestamps are all seen by one process and loss and duplication are exact per message.
 */
import type { ServerFrame } from '@parley/protocol';
import { BenchSocket } from '../bench-socket.js';
import { now, sleepUntil } from '../clock.js';
import { Histogram } from '../histogram.js';
import type { HistogramData } from '../histogram.js';
import { SeqSet, openBounded } from './rpc.js';

export interface LoadClientSpec {
  userId: string;
  token: string;
  /** Index into `LoadTask.convs` of this client's one conversation. */
  conv: number;
  /** Whether this client sends (every client receives). */
  sends: boolean;
}

export interface LoadConvSpec {
  id: string;
  /** Indexes into `LoadTask.clients` of every member device. */
  members: number[];
}

export interface LoadTask {
  /** ws://host:port/v1/ws of each server; client i connects to urls[i % urls.length] (a cluster's chat servers). */
  urls: string[];
  localAddress?: string | undefined;
  clients: LoadClientSpec[];
  convs: LoadConvSpec[];
  /** This worker's share of the offered rate, messages/s; 0 = as fast as the window allows. */
  ratePerSec: number;
  /** Most unacked sends per client. */
  window: number;
  /** Length of each text, characters (at least 20: it starts with the send timestamp). */
  textChars: number;
  /** Most WebSocket handshakes in flight. */
  connectConcurrency: number;
}

export interface LoadTiming {
  /** First send, `now()` clock. */
  startAt: number;
  /** Measured window [measureFrom, measureTo); sending stops at measureTo. */
  measureFrom: number;
  measureTo: number;
  /** With a fixed rate: the rate rises linearly from 0 over this long after `startAt`, ms. */
  rampMs: number;
  /** Longest wait after sending stops for outstanding acks and deliveries, ms. */
  drainMs: number;
}

export interface LoadReport {
  clients: number;
  sent: number;
  sentInWindow: number;
  ackedInWindow: number;
  /** Message frames received by devices other than the sending one, in the window. */
  deliveredInWindow: number;
  /** Message frames received by the sending device itself (its own echo), in the window. */
  echoInWindow: number;
  /** Sends the rate schedule skipped because the client's window was full. */
  skipped: number;
  /** Acked messages some member device never received, counted per device, plus sends never acked. */
  lost: number;
  unacked: number;
  /** Message frames a device received more than once. */
  duplicated: number;
  errors: Record<string, number>;
  /** Sockets closed by the server during the run. */
  closed: number;
  /** Send → receipt by another member, for messages sent in the window. */
  latency: HistogramData;
  /** Send → ack (durably stored), for messages sent in the window. */
  ackLatency: HistogramData;
  /** Max send → receipt latency (ms) of the messages sent in each half second since `startAt` (warmup included). */
  maxByHalfSecond: number[];
  /** The same for send → ack. */
  ackMaxByHalfSecond: number[];
  drainedMs: number;
}

interface Conv {
  id: string;
  members: Client[];
  acked: SeqSet;
}

interface Client {
  idx: number;
  userId: string;
  token: string;
  sends: boolean;
  conv: Conv;
  socket: BenchSocket | null;
  seen: SeqSet;
  inflight: number;
  next: number;
  synced: (() => void) | null;
}

export class LoadJob {
  private readonly clients: Client[];
  private readonly convs: Conv[];
  private readonly senders: Client[];
  private readonly pad: string;
  private timing: LoadTiming = {
    startAt: Infinity,
    measureFrom: Infinity,
    measureTo: Infinity,
    rampMs: 0,
    drainMs: 0,
  };
  private sending = false;

  private sent = 0;
  private sentInWindow = 0;
  private ackedInWindow = 0;
  private deliveredInWindow = 0;
  private echoInWindow = 0;
  private skipped = 0;
  private duplicated = 0;
  private uniqueReceipts = 0;
  private expectedReceipts = 0;
  private closed = 0;
  private readonly errors: Record<string, number> = {};
  private readonly latency = new Histogram();
  private readonly ackLatency = new Histogram();
  private readonly maxByHalfSecond: number[] = [];
  private readonly ackMaxByHalfSecond: number[] = [];

  constructor(private readonly task: LoadTask) {
    this.convs = task.convs.map((c) => ({ id: c.id, members: [], acked: new SeqSet() }));
    this.clients = task.clients.map((c, idx) => {
      const conv = this.convs[c.conv];
      if (!conv) throw new Error(`client ${idx} has no conversation ${c.conv}`);
      return {
        idx,
        userId: c.userId,
        token: c.token,
        sends: c.sends,
        conv,
        socket: null,
        seen: new SeqSet(),
        inflight: 0,
        next: 0,
        synced: null,
      };
    });
    task.convs.forEach((c, i) => {
      for (const m of c.members) (this.convs[i] as Conv).members.push(this.clients[m] as Client);
    });
    this.senders = this.clients.filter((c) => c.sends);
    this.pad = 'x'.repeat(Math.max(0, task.textChars - 18));
  }

  /** Open every socket, `sync` from now, and wait for `synced`. Resolves with failures. */
  async connect(): Promise<{ connected: number; failed: number; error?: string }> {
    let failed = 0;
    let error: string | undefined;
    const urls = this.task.urls;
    await openBounded(this.clients, this.task.connectConcurrency, async (c, i) => {
      try {
        const { socket } = await BenchSocket.open({
          url: urls[i % urls.length] as string,
          token: c.token,
          localAddress: this.task.localAddress,
        });
        c.socket = socket;
        socket.onFrame = (f) => this.onFrame(c, f);
        socket.onClose = () => {
          this.closed++;
        };
        await new Promise<void>((resolve) => {
          c.synced = resolve;
          socket.send({ type: 'sync', since: null });
        });
      } catch (err) {
        failed++;
        error ??= err instanceof Error ? err.message : String(err);
      }
    });
    return { connected: this.clients.length - failed, failed, ...(error ? { error } : {}) };
  }

  private send(c: Client, t: number): void {
    const socket = c.socket;
    if (!socket) return;
    const ts = t.toFixed(3);
    // The send time leads both the client id (for ack latency) and the text (for delivery
    // latency): receivers parse it back with parseFloat.
    socket.sendRaw(
      JSON.stringify({
        type: 'send',
        conversationId: c.conv.id,
        clientId: `${ts}-${c.idx}-${c.next++}`,
        text: `${ts} ${this.pad}`,
      }),
    );
    c.inflight++;
    this.sent++;
    if (t >= this.timing.measureFrom && t < this.timing.measureTo) this.sentInWindow++;
  }

  private onFrame(c: Client, f: ServerFrame): void {
    switch (f.type) {
      case 'message': {
        const m = f.message;
        const t = now();
        if (m.conversationId !== c.conv.id) return;
        if (!c.seen.add(m.seq)) {
          this.duplicated++;
          return;
        }
        this.uniqueReceipts++;
        const inWindow = t >= this.timing.measureFrom && t < this.timing.measureTo;
        if (m.senderId === c.userId) {
          if (inWindow) this.echoInWindow++;
          return;
        }
        if (inWindow) this.deliveredInWindow++;
        const t0 = parseFloat(m.text);
        if (t0 >= this.timing.measureFrom && t0 < this.timing.measureTo) this.latency.recordMs(t - t0);
        this.slowest(this.maxByHalfSecond, t0, t);
        return;
      }
      case 'ack': {
        const t = now();
        c.inflight--;
        if (c.conv.acked.add(f.seq)) this.expectedReceipts += c.conv.members.length;
        if (t >= this.timing.measureFrom && t < this.timing.measureTo) this.ackedInWindow++;
        const t0 = parseFloat(f.clientId);
        if (t0 >= this.timing.measureFrom && t0 < this.timing.measureTo) this.ackLatency.recordMs(t - t0);
        this.slowest(this.ackMaxByHalfSecond, t0, t);
        if (this.sending && this.task.ratePerSec === 0) this.send(c, t);
        return;
      }
      case 'error': {
        this.errors[f.code] = (this.errors[f.code] ?? 0) + 1;
        if (f.ref !== undefined) {
          c.inflight--;
          if (this.sending && this.task.ratePerSec === 0) this.send(c, now());
        }
        return;
      }
      case 'synced': {
        const done = c.synced;
        c.synced = null;
        done?.();
        return;
      }
      default:
        // Every other frame (pong, read cursors, conversation changes, presence...) is not
        // part of the measurement; not exhaustive on purpose, so new frames need no change here.
        return;
    }
  }

  /** Send on schedule (or window-bound) until `measureTo`, drain, and report. */
  async run(timing: LoadTiming): Promise<LoadReport> {
    this.timing = timing;
    await sleepUntil(timing.startAt);
    this.sending = true;
    if (this.senders.length > 0) {
      if (this.task.ratePerSec === 0) {
        const t = now();
        for (let k = 0; k < this.task.window; k++) for (const c of this.senders) this.send(c, t);
      } else await this.paced();
    }
    await sleepUntil(timing.measureTo);
    this.sending = false;
    const stoppedAt = now();
    while (now() - stoppedAt < timing.drainMs) {
      let inflight = 0;
      for (const c of this.senders) inflight += c.inflight;
      if (inflight === 0 && this.uniqueReceipts >= this.expectedReceipts) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.report(now() - stoppedAt);
  }

  /** Open-loop sends at `ratePerSec`, round-robin over senders, checked every millisecond. */
  private paced(): Promise<void> {
    const { startAt, measureTo } = this.timing;
    const rate = this.task.ratePerSec / 1000;
    const ramp = Math.max(0, this.timing.rampMs);
    // Sends due by `ms` after the start: the integral of a rate that rises linearly over the ramp.
    const dueBy = (ms: number): number =>
      ms < ramp ? (rate * ms * ms) / (2 * ramp) : rate * (ms - ramp / 2);
    const n = this.senders.length;
    let scheduled = 0;
    let rr = 0;
    return new Promise((resolve) => {
      const timer = setInterval(() => {
        const t = now();
        if (t >= measureTo) {
          clearInterval(timer);
          resolve();
          return;
        }
        const due = Math.floor(dueBy(t - startAt)) - scheduled;
        for (let k = 0; k < due; k++) {
          scheduled++;
          let tries = 0;
          let c = this.senders[rr] as Client;
          while (c.inflight >= this.task.window && tries < n) {
            rr = (rr + 1) % n;
            c = this.senders[rr] as Client;
            tries++;
          }
          rr = (rr + 1) % n;
          if (tries === n) this.skipped++;
          else this.send(c, t);
        }
      }, 1);
    });
  }

  /** Keep the slowest latency (sent at t0, arrived at t) of t0's half second of the run. */
  private slowest(byHalfSecond: number[], t0: number, t: number): void {
    const slot = Math.floor((t0 - this.timing.startAt) / 500);
    if (slot < 0 || t0 >= this.timing.measureTo || (byHalfSecond[slot] ?? 0) >= t - t0) return;
    for (let k = byHalfSecond.length; k < slot; k++) byHalfSecond[k] = 0;
    byHalfSecond[slot] = t - t0;
  }

  private report(drainedMs: number): LoadReport {
    let lost = 0;
    let unacked = 0;
    for (const c of this.senders) unacked += Math.max(0, c.inflight);
    for (const conv of this.convs) {
      for (let seq = 1; seq <= conv.acked.max; seq++) {
        if (!conv.acked.has(seq)) continue;
        for (const m of conv.members) if (!m.seen.has(seq)) lost++;
      }
    }
    return {
      clients: this.clients.length,
      sent: this.sent,
      sentInWindow: this.sentInWindow,
      ackedInWindow: this.ackedInWindow,
      deliveredInWindow: this.deliveredInWindow,
      echoInWindow: this.echoInWindow,
      skipped: this.skipped,
      lost: lost + unacked,
      unacked,
      duplicated: this.duplicated,
      errors: this.errors,
      closed: this.closed,
      latency: this.latency.toData(),
      ackLatency: this.ackLatency.toData(),
      maxByHalfSecond: this.maxByHalfSecond,
      ackMaxByHalfSecond: this.ackMaxByHalfSecond,
      drainedMs,
    };
  }

  close(): void {
    for (const c of this.clients) c.socket?.close();
  }
}
