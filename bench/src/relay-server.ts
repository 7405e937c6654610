/**
 * The transport ceiling: a bare `ws` relay speaking just enough of the Parley frames for
 * the dm workload (ready, sync → synced, ping → pong, send → ack + message to every member
 * device), with no authentication, no validation beyond JSON, and no store. The token in
 * the `parley.auth.` subprotocol is taken as the user id; a conversation id `r~a~b` names its
 * members. Like the server, it serializes each message frame once for all recipients.
 *
 * Run by the bench (`--scenario relay` or `--compare-relay`); prints
 * `{"msg":"listening","port":N}` when ready.
 */
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { AUTH_PROTOCOL_PREFIX, PROTOCOL } from '@parley/protocol';
import type { ClientFrame } from '@parley/protocol';

interface Peer {
  ws: WebSocket;
  userId: string;
  live: boolean;
}

const byUser = new Map<string, Set<Peer>>();
const seqs = new Map<string, number>();
let pos = 0;

const wss = new WebSocketServer({
  port: Number(process.env.PORT ?? 0),
  host: '127.0.0.1',
  perMessageDeflate: false,
  clientTracking: false,
  handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
});

function send(ws: WebSocket, frame: object): void {
  ws.send(JSON.stringify(frame));
}

wss.on('connection', (ws, req) => {
  const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',');
  const auth = protocols.map((p) => p.trim()).find((p) => p.startsWith(AUTH_PROTOCOL_PREFIX));
  const userId = auth ? auth.slice(AUTH_PROTOCOL_PREFIX.length) : 'anonymous';
  const peer: Peer = { ws, userId, live: false };
  let set = byUser.get(userId);
  if (!set) byUser.set(userId, (set = new Set()));
  set.add(peer);
  ws.on('close', () => {
    const s = byUser.get(userId);
    if (s?.delete(peer) && s.size === 0) byUser.delete(userId);
  });
  ws.on('error', () => ws.terminate());
  send(ws, { type: 'ready', userId, deviceId: userId, pos, heartbeatMs: 5000, serverId: 'relay' });
  ws.on('message', (data: Buffer) => {
    let frame: ClientFrame;
    try {
      frame = JSON.parse(data.toString()) as ClientFrame;
    } catch {
      return send(ws, {
        type: 'error',
        code: 'invalid_json',
        message: 'Frame is not valid JSON',
        retryable: false,
      });
    }
    switch (frame.type) {
      case 'sync':
        peer.live = true;
        return send(ws, { type: 'synced', pos });
      case 'ping':
        return send(ws, frame.t === undefined ? { type: 'pong' } : { type: 'pong', t: frame.t });
      case 'read':
        return;
      case 'send': {
        const seq = (seqs.get(frame.conversationId) ?? 0) + 1;
        seqs.set(frame.conversationId, seq);
        const p = ++pos;
        const createdAt = Date.now();
        const id = String(p);
        const message = {
          id,
          conversationId: frame.conversationId,
          seq,
          pos: p,
          senderId: userId,
          clientId: frame.clientId,
          text: frame.text,
          createdAt,
        };
        const out = Buffer.from(JSON.stringify({ type: 'message', message }));
        for (const member of frame.conversationId.split('~').slice(1)) {
          for (const q of byUser.get(member) ?? []) if (q.live) q.ws.send(out, { binary: false });
        }
        return send(ws, {
          type: 'ack',
          clientId: frame.clientId,
          conversationId: frame.conversationId,
          id,
          seq,
          pos: p,
          createdAt,
          duplicate: false,
        });
      }
      default:
        return;
    }
  });
});

wss.on('listening', () => {
  const addr = wss.address();
  const port = addr !== null && typeof addr === 'object' ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
});

const stop = (): void => {
  wss.close();
  for (const set of byUser.values()) for (const p of set) p.ws.terminate();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
