/** Plain HTTP and WebSocket helpers for tests that must send what the SDK never would. */
import WebSocket from 'ws';
import { AUTH_PROTOCOL_PREFIX, PROTOCOL } from '@parley/protocol';
import type { ServerFrame, Session } from '@parley/protocol';

let counter = 0;
/** A fresh username for this test run. */
export function uname(prefix = 'u'): string {
  return `${prefix}${process.pid.toString(36)}${(counter++).toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.slice(
    0,
    32,
  );
}

export async function api<T = unknown>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Sign up (if needed) and log in a new device. */
export async function account(base: string, username = uname(), deviceName = 'test'): Promise<Session> {
  await api(base, 'POST', '/v1/users', { username, password: 'password123' });
  const res = await api<Session>(base, 'POST', '/v1/sessions', {
    username,
    password: 'password123',
    deviceName,
  });
  if (res.status !== 201) throw new Error(`login failed: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A raw socket that records every server frame. */
export class RawSocket {
  readonly frames: ServerFrame[] = [];
  closeCode: number | null = null;
  private waiters: Array<() => void> = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      this.frames.push(JSON.parse(d.toString()) as ServerFrame);
      this.wake();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.wake();
    });
    ws.on('error', () => undefined);
  }
  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  static open(base: string, token: string): Promise<RawSocket> {
    const ws = new WebSocket(base.replace(/^http/, 'ws') + '/v1/ws', [
      PROTOCOL,
      AUTH_PROTOCOL_PREFIX + token,
    ]);
    const s = new RawSocket(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(s));
      ws.once('error', reject);
    });
  }
  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }
  /** Wait until `pred` holds over the frames received so far (or the socket closes). */
  async until(pred: (frames: ServerFrame[]) => boolean, timeoutMs = 10_000): Promise<ServerFrame[]> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.frames)) {
      if (this.closeCode !== null) throw new Error(`socket closed (${this.closeCode}) before condition`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; frames: ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.frames;
  }
  waitClose(timeoutMs = 10_000): Promise<number> {
    if (this.closeCode !== null) return Promise.resolve(this.closeCode);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('socket did not close')), timeoutMs);
      this.ws.once('close', (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
  }
  close(): void {
    this.ws.close();
  }
}
