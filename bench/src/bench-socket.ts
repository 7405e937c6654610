/**
 * The lean WebSocket client the load generator uses: one `ws` socket speaking the Parley
 * frames of @parley/protocol, with none of the SDK's outbox, reconnect or event machinery
 * (the SDK costs more CPU per message, and here every microsecond of client CPU is taken
 * from the server on the same machine).
 */
import WebSocket from 'ws';
import { AUTH_PROTOCOL_PREFIX, PROTOCOL } from '@parley/protocol';
import type { ClientFrame, ReadyFrame, ServerFrame } from '@parley/protocol';

/**
 * Masks every client frame with zeros, which `ws` then skips applying. RFC 6455 §5.3 wants
 * an unpredictable mask to protect intermediaries; a benchmark on loopback has none, and
 * this saves a random fill and an XOR pass per frame on the client.
 */
const zeroMask = (mask: Uint8Array): void => {
  mask.fill(0);
};

export interface SocketOptions {
  /** ws://host:port/v1/ws */
  url: string;
  token: string;
  /** Source address in 127.0.0.0/8, to spread ephemeral ports over several addresses. */
  localAddress?: string | undefined;
  /** Give up on the handshake after this long, ms. Default 30000. */
  handshakeTimeoutMs?: number;
  /**
   * Send `sync` with this `since` as soon as the upgrade completes, without waiting for
   * `ready` (the protocol lets a `sync` sent before `ready` wait for it): one round trip
   * less per connect, and the server can answer `ready` and `synced` in one write.
   */
  sync?: number | null;
}

export class BenchSocket {
  readonly ws: WebSocket;
  /** Called for every frame after `ready`. */
  onFrame: (frame: ServerFrame) => void = () => {};
  onClose: (code: number) => void = () => {};

  private constructor(ws: WebSocket) {
    this.ws = ws;
  }

  /** Open a socket and resolve with it once the server's `ready` frame arrives. */
  static open(opts: SocketOptions): Promise<{ socket: BenchSocket; ready: ReadyFrame }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(opts.url, [PROTOCOL, AUTH_PROTOCOL_PREFIX + opts.token], {
        perMessageDeflate: false,
        skipUTF8Validation: true,
        generateMask: zeroMask,
        handshakeTimeout: opts.handshakeTimeoutMs ?? 30_000,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      });
      const socket = new BenchSocket(ws);
      let ready = false;
      if (opts.sync !== undefined) {
        const frame = JSON.stringify({ type: 'sync', since: opts.sync } satisfies ClientFrame);
        ws.once('open', () => ws.send(frame));
      }
      ws.on('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString()) as ServerFrame;
        if (!ready) {
          if (frame.type === 'ready') {
            ready = true;
            resolve({ socket, ready: frame });
          } else reject(new Error(`expected ready, got ${frame.type}`));
          return;
        }
        socket.onFrame(frame);
      });
      ws.on('unexpected-response', (_req, res) => {
        reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
        res.resume();
        ws.terminate();
      });
      ws.on('error', (err) => {
        if (!ready) reject(err);
      });
      ws.on('close', (code) => {
        if (!ready) reject(new Error(`closed before ready (${code})`));
        else socket.onClose(code);
      });
    });
  }

  send(frame: ClientFrame): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Send an already-encoded frame. */
  sendRaw(text: string): void {
    this.ws.send(text);
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(1000);
    }
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** ws://host:port/v1/ws for an http(s):// base URL. */
export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/v1/ws`;
}
