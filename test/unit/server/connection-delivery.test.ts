import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { Connection } from '../../../packages/server/src/chat/connection.js';

/** A socket that records what is written to it. */
function fakeSocket() {
  const sent: string[] = [];
  const ws = {
    bufferedAmount: 0,
    send: (b: Buffer) => sent.push(b.toString()),
    close: () => undefined,
    terminate: () => undefined,
  };
  return { ws: ws as unknown as WebSocket, sent };
}

const RATE = {
  framesPerSec: 100,
  frameBurst: 200,
  typingPerSec: 1,
  typingBurst: 3,
  maxBufferedBytes: 1 << 23,
};
const ctx = { userId: 'u1', deviceId: 'd1', username: 'ana' };
const msg = (pos: number) => Buffer.from(`m${pos}`);

function connection(onGapTimeout: (c: Connection) => void = () => undefined, fillMs = 20) {
  const { ws, sent } = fakeSocket();
  const conn = new Connection(1, ws, ctx, RATE, { fillMs, onGapTimeout });
  return { conn, sent };
}

describe('Connection delivery state', () => {
  it('syncs once', () => {
    const { conn } = connection();
    expect(conn.beginCatchUp()).toBe(true);
    expect(conn.beginCatchUp()).toBe(false);
    expect(conn.state).toBe('catching_up');
  });

  it('holds frames while catching up and delivers only those past the caught-up position', () => {
    const { conn, sent } = connection();
    conn.beginCatchUp();
    conn.deliver(msg(1), 1, 0);
    conn.deliver(msg(2), 2, 1);
    conn.deliver(msg(3), 3, 2);
    expect(sent).toEqual([]);
    conn.goLive(2);
    expect(sent).toEqual(['m3']);
    expect(conn.deliveredPos).toBe(3);
  });

  it('waits for a missing predecessor and delivers in feed order once it comes', () => {
    const { conn, sent } = connection();
    conn.beginCatchUp();
    conn.goLive(0);
    conn.deliver(msg(2), 2, 1);
    expect(sent).toEqual([]);
    conn.deliver(msg(1), 1, 0);
    expect(sent).toEqual(['m1', 'm2']);
  });

  it('a gap that does not fill calls for a refill from what was delivered', async () => {
    let timedOut: Connection | undefined;
    const { conn, sent } = connection((c) => (timedOut = c));
    conn.beginCatchUp();
    conn.goLive(5);
    conn.deliver(msg(8), 8, 7);
    await new Promise((r) => setTimeout(r, 60));
    expect(timedOut).toBe(conn);
    expect(conn.beginRefill()).toBe(5);
    expect(conn.state).toBe('catching_up');
    expect(conn.beginRefill()).toBeUndefined();
    // The store brought 6 and 7; the frame that waited is delivered after them.
    conn.goLive(7);
    expect(sent).toEqual(['m8']);
  });

  it('drops held message frames past its limit and says so once', () => {
    const { conn } = connection();
    conn.beginCatchUp();
    for (let p = 1; p <= 2001; p++) conn.deliver(msg(p), p, p - 1);
    expect(conn.takeOverflowed()).toBe(true);
    expect(conn.takeOverflowed()).toBe(false);
    expect(conn.state).toBe('catching_up');
  });

  it('drops everything once closed', () => {
    const { conn, sent } = connection();
    conn.beginCatchUp();
    conn.deliver(msg(1), 1, 0);
    conn.closed();
    conn.goLive(0);
    conn.deliver(msg(2), 2, 1);
    expect(sent).toEqual([]);
    expect(conn.state).toBe('closed');
  });
});
