/**
 * The load generator's raw WebSocket client against a real `ws` server: handshake with the
 * first frame in the same write, fragmented and large server frames, ping → pong, the close
 * handshake, and refused upgrades.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { AUTH_PROTOCOL_PREFIX, PROTOCOL } from '@parley/protocol';
import type { ServerFrame } from '@parley/protocol';
import { RawSocket } from '../src/raw-socket.js';

interface Peer {
  url: string;
  connections: Promise<{ ws: WebSocket; first: string; protocols: string[] }>;
  close: () => Promise<void>;
}

/** A ws server that refuses tokens other than "good" before upgrading, like Parley. */
async function peer(): Promise<Peer> {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, handleProtocols: () => PROTOCOL });
  let arrived!: (c: { ws: WebSocket; first: string; protocols: string[] }) => void;
  const connections = new Promise<{ ws: WebSocket; first: string; protocols: string[] }>(
    (r) => (arrived = r),
  );
  http.on('upgrade', (req, socket, head) => {
    const protocols = String(req.headers['sec-websocket-protocol']).split(/\s*,\s*/);
    if (!protocols.includes(`${AUTH_PROTOCOL_PREFIX}good`)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.once('message', (data: Buffer) => arrived({ ws, first: data.toString(), protocols }));
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/v1/ws`,
    connections,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

const ready = JSON.stringify({ type: 'ready', heartbeatMs: 30000 });
let current: Peer | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

describe('RawSocket', () => {
  it('upgrades with the sync frame in the same write, then reads ready and later frames', async () => {
    const p = (current = await peer());
    const opening = RawSocket.open({ url: p.url, token: 'good', sync: null });
    const { ws, first, protocols } = await p.connections;
    expect(protocols).toEqual([PROTOCOL, `${AUTH_PROTOCOL_PREFIX}good`]);
    expect(JSON.parse(first)).toEqual({ type: 'sync', since: null });
    ws.send(ready);
    const { socket, ready: r } = await opening;
    expect(r).toMatchObject({ type: 'ready', heartbeatMs: 30000 });
    expect(socket.open).toBe(true);

    const frames: ServerFrame[] = [];
    socket.onFrame = (f) => frames.push(f);
    // A fragmented frame, a 70,000-byte frame (64-bit length) and a 300-byte one (16-bit).
    ws.send('{"type":"po', { fin: false });
    ws.send('ng"}', { fin: true });
    const big = 'x'.repeat(70_000);
    ws.send(JSON.stringify({ type: 'pong', pad: big }));
    ws.send(JSON.stringify({ type: 'pong', pad: 'y'.repeat(300) }));
    const pong = new Promise<Buffer>((r) => ws.once('pong', r));
    ws.ping(Buffer.from('hi'));
    expect((await pong).toString()).toBe('hi');
    await expect.poll(() => frames.length).toBe(3);
    expect(frames[0]).toEqual({ type: 'pong' });
    expect((frames[1] as unknown as { pad: string }).pad).toBe(big);
    expect((frames[2] as unknown as { pad: string }).pad).toHaveLength(300);

    const got = new Promise<string>((r) => ws.once('message', (d: Buffer) => r(d.toString())));
    socket.sendRaw('{"type":"ping"}');
    expect(await got).toBe('{"type":"ping"}');

    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    socket.close();
    expect(await closed).toBe(1000);
    await socket.closed;
    expect(socket.open).toBe(false);
  });

  it('rejects a refused upgrade with its status line', async () => {
    const p = (current = await peer());
    await expect(RawSocket.open({ url: p.url, token: 'bad' })).rejects.toThrow(
      /upgrade refused: HTTP\/1\.1 401/,
    );
  });

  it('rejects a server that answers with something other than JSON frames', async () => {
    const p = (current = await peer());
    const opening = RawSocket.open({ url: p.url, token: 'good', sync: null });
    const { ws } = await p.connections;
    ws.send('not json');
    await expect(opening).rejects.toThrow('malformed server frame');
  });

  it('reports a server that closes the connection', async () => {
    const p = (current = await peer());
    const opening = RawSocket.open({ url: p.url, token: 'good', sync: 0 });
    const { ws } = await p.connections;
    ws.send(ready);
    const { socket } = await opening;
    const gone = new Promise<void>((r) => (socket.onClose = r));
    ws.close(1001);
    await gone;
    expect(socket.open).toBe(false);
  });
});
