import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { Connection, withCursor } from '../../../packages/server/src/chat/connection.js';

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
/** A message frame as the services serialize it (the connection stamps its cursor in). */
const msg = (pos: number) => Buffer.from(JSON.stringify({ type: 'message', message: { pos } }));
/** What the socket got for a message frame: its position and the cursor stamped on it. */
const m = (pos: number, cursor = String(pos)) =>
  JSON.stringify({ type: 'message', cursor, message: { pos } });
const at = (...ps: [space: number, pos: number][]) => new Map(ps);

function connection(onGapTimeout: (c: Connection) => void = () => undefined, fillMs = 20, spaces = 1) {
  const { ws, sent } = fakeSocket();
  const conn = new Connection(1, ws, ctx, RATE, { fillMs, onGapTimeout }, spaces);
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
    conn.goLive(at([0, 2]));
    expect(sent).toEqual([m(3)]);
    expect(conn.delivered).toEqual(at([0, 3]));
    expect(conn.cursor).toBe('3');
  });

  it('waits for a missing predecessor and delivers in feed order once it comes', () => {
    const { conn, sent } = connection();
    conn.beginCatchUp();
    conn.goLive(at());
    conn.deliver(msg(2), 2, 1);
    expect(sent).toEqual([]);
    conn.deliver(msg(1), 1, 0);
    expect(sent).toEqual([m(1), m(2)]);
  });

  it('a gap that does not fill calls for a refill from what was delivered', async () => {
    let timedOut: Connection | undefined;
    const { conn, sent } = connection((c) => (timedOut = c));
    conn.beginCatchUp();
    conn.goLive(at([0, 5]));
    conn.deliver(msg(8), 8, 7);
    await new Promise((r) => setTimeout(r, 60));
    expect(timedOut).toBe(conn);
    expect(conn.beginRefill()).toEqual(at([0, 5]));
    expect(conn.state).toBe('catching_up');
    expect(conn.beginRefill()).toBeUndefined();
    // The store brought 6 and 7; the frame that waited is delivered after them.
    conn.goLive(at([0, 7]));
    expect(sent).toEqual([m(8)]);
  });

  it('drops held message frames past its limit and says so once', () => {
    const { conn } = connection();
    conn.beginCatchUp();
    for (let p = 1; p <= 2001; p++) conn.deliver(msg(p), p, p - 1);
    expect(conn.takeOverflowed()).toBe(true);
    expect(conn.takeOverflowed()).toBe(false);
    expect(conn.state).toBe('catching_up');
  });

  it('a recheck reads the store now when live, and once live when it comes before', () => {
    const { conn } = connection();
    expect(conn.recheck()).toBe(false); // new: its catch-up may have passed the commit
    conn.beginCatchUp();
    expect(conn.recheck()).toBe(false);
    expect(conn.goLive(at([0, 2]))).toBe(true);
    expect(conn.state).toBe('live');
    expect(conn.recheck()).toBe(true);
    expect(conn.beginRefill()).toEqual(at([0, 2]));
    expect(conn.goLive(at([0, 3]))).toBe(false); // owed once only
    conn.closed();
    expect(conn.recheck()).toBe(false);
  });

  it('drops everything once closed', () => {
    const { conn, sent } = connection();
    conn.beginCatchUp();
    conn.deliver(msg(1), 1, 0);
    conn.closed();
    conn.goLive(at());
    conn.deliver(msg(2), 2, 1);
    expect(sent).toEqual([]);
    expect(conn.state).toBe('closed');
  });

  it('orders each position space on its own and stamps the cursor of every space', () => {
    // Four spaces: 5, 9, 13 are space 1; 6, 10 space 2; 8 space 0.
    const { conn, sent } = connection(undefined, 20, 4);
    conn.beginCatchUp();
    conn.goLive(at([1, 5], [2, 6]));
    conn.deliver(msg(13), 13, 9); // waits for 9
    conn.deliver(msg(10), 10, 6); // space 2 is not held up by space 1
    conn.deliver(msg(8), 8, 0);
    conn.deliver(msg(6), 6, 2); // already delivered
    expect(sent).toEqual([m(10, '5.10'), m(8, '5.8.10')]);
    conn.deliver(msg(9), 9, 5);
    expect(sent.slice(2)).toEqual([m(9, '8.9.10'), m(13, '8.10.13')]);
    expect(conn.delivered).toEqual(at([1, 13], [2, 10], [0, 8]));
    expect(conn.syncStart(null)).toEqual(at());
  });

  it('starts a sync past the ready head at the head, per space', () => {
    const { conn } = connection(undefined, 20, 4);
    conn.readyAt(at([1, 9], [2, 10]));
    expect(conn.syncStart(null)).toEqual(at([1, 9], [2, 10]));
    expect(conn.syncStart(at([1, 5], [2, 42], [3, 7]))).toEqual(at([1, 5], [2, 10]));
  });

  it('stamps only message frames', () => {
    const other = Buffer.from('{"type":"read","seq":1}');
    expect(withCursor(other, '7')).toBe(other);
    expect(withCursor(Buffer.from('{}'), '7').toString()).toBe('{}');
    expect(JSON.parse(withCursor(msg(7), '3.7').toString())).toEqual({
      type: 'message',
      cursor: '3.7',
      message: { pos: 7 },
    });
  });
});
