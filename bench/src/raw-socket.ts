/**
 * The cheapest WebSocket client the load generator has, for the connect-heavy scenarios
 * (`idle`): a plain TCP socket that writes the upgrade request and its first frame in one
 * write, reads the 101 and then unmasked server frames (RFC 6455 §5.2) itself.
 *
 * With `ws` the generator spent ~140% CPU of two cores to open ~2,000 connections/s while
 * the server used ~45%: its HTTP client (ClientRequest, agent, parser, key and accept
 * hashes) and the per-socket stream machinery cost several times the server's own work, so
 * connects/s measured the generator. This client skips all of it: the request is one string,
 * the key is fixed (the server only checks its form; there is no intermediary to fool on
 * loopback) and client frames carry a zero mask, which RFC 6455 allows a client to choose.
 *
 * It is not a general client: no extensions, no TLS, no redirects. Server frames may be
 * fragmented and ping/close are answered as the RFC asks.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { AUTH_PROTOCOL_PREFIX, PROTOCOL } from '@parley/protocol';
import type { ClientFrame, ReadyFrame, ServerFrame } from '@parley/protocol';

/** Any valid key: 16 bytes, base64. The accept header is not checked (loopback, our server). */
const KEY = 'cGFybGV5LWJlbmNoLWtleQ==';
const END_OF_HEADERS = Buffer.from('\r\n\r\n');

/** A client frame (FIN, opcode, MASK bit, length, zero masking key, payload as is). */
export function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? 6 : n < 65536 ? 8 : 14;
  const out = Buffer.alloc(head + n); // zero-filled: the masking key is 0, 0, 0, 0
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  payload.copy(out, head);
  return out;
}

const textFrame = (text: string): Buffer => maskedFrame(0x1, Buffer.from(text));
const CLOSE_1000 = maskedFrame(0x8, Buffer.from([0x03, 0xe8]));

export interface RawOpenOptions {
  /** ws://host:port/v1/ws */
  url: string;
  token: string;
  localAddress?: string | undefined;
  /**
   * Source port (with `localAddress`). Choosing it here skips the kernel's search for a free
   * ephemeral port, which on Linux scans the even ports first and then costs O(connections)
   * per connect once they are used up: with 19,000 connections to one server address in the
   * default range (32768-60999) `connect()` took ~650 µs of the generator's CPU each.
   */
  localPort?: number | undefined;
  /** Give up on the handshake after this long, ms. Default 30000. */
  handshakeTimeoutMs?: number;
  /** Send `sync` with this `since` in the same write as the upgrade request. */
  sync?: number | null;
}

export class RawSocket {
  /** Called for every text frame after `ready`. */
  onFrame: (frame: ServerFrame) => void = () => {};
  onClose: () => void = () => {};
  /** Resolves when the TCP connection is gone. */
  readonly closed: Promise<void>;
  private state: 'handshake' | 'open' | 'closing' | 'closed' = 'handshake';
  private buf: Buffer | null = null;
  private fragments: Buffer[] = [];

  private constructor(private readonly sock: Socket) {
    this.closed = new Promise((resolve) => sock.once('close', () => resolve()));
  }

  /** Open a socket and resolve with it once the server's `ready` frame arrives. */
  static open(opts: RawOpenOptions): Promise<{ socket: RawSocket; ready: ReadyFrame }> {
    const url = new URL(opts.url);
    const sock = connect({
      host: url.hostname,
      port: Number(url.port || 80),
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(opts.localPort ? { localPort: opts.localPort } : {}),
    });
    sock.setNoDelay(true);
    const raw = new RawSocket(sock);
    const request =
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Protocol: ${PROTOCOL}, ${AUTH_PROTOCOL_PREFIX}${opts.token}\r\n\r\n`;
    const first =
      opts.sync === undefined
        ? Buffer.from(request)
        : Buffer.concat([
            Buffer.from(request),
            textFrame(JSON.stringify({ type: 'sync', since: opts.sync } satisfies ClientFrame)),
          ]);
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err);
        sock.destroy();
      };
      const timer = setTimeout(
        () => fail(new Error('handshake timed out')),
        opts.handshakeTimeoutMs ?? 30_000,
      );
      raw.onReady = (ready) => {
        settled = true;
        clearTimeout(timer);
        resolve({ socket: raw, ready });
      };
      raw.onFail = fail;
      sock.on('connect', () => sock.write(first));
      sock.on('data', (chunk: Buffer) => raw.onData(chunk));
      sock.on('error', (err) => fail(err));
      sock.on('close', () => {
        const wasOpen = raw.state === 'open' || raw.state === 'closing';
        raw.state = 'closed';
        if (!settled) fail(new Error('closed before ready'));
        else if (wasOpen) raw.onClose();
      });
    });
  }

  private awaitingReady = true;
  private onReady: (ready: ReadyFrame) => void = () => {};
  private onFail: (err: Error) => void = () => {};

  get open(): boolean {
    return this.state === 'open';
  }

  /** Send an already-encoded text frame. */
  sendRaw(text: string): void {
    if (this.state === 'open') this.sock.write(textFrame(text));
  }

  /** Send a ready-made masked frame (see `maskedFrame`). */
  sendFrame(frame: Buffer): void {
    if (this.state === 'open') this.sock.write(frame);
  }

  /** Close handshake (1000); the server answers and closes the TCP connection. */
  close(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.sock.write(CLOSE_1000);
  }

  terminate(): void {
    this.sock.destroy();
  }

  private onData(chunk: Buffer): void {
    let b = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    this.buf = null;
    if (this.state === 'handshake') {
      const end = b.indexOf(END_OF_HEADERS);
      if (end < 0) {
        this.buf = b;
        return;
      }
      const status = b.toString('latin1', 0, b.indexOf('\r\n'));
      if (!/^HTTP\/1\.1 101 /.test(status)) return this.onFail(new Error(`upgrade refused: ${status}`));
      this.state = 'open';
      b = b.subarray(end + END_OF_HEADERS.length);
    }
    let off = 0;
    while (b.length - off >= 2) {
      const b0 = b[off] as number;
      const b1 = b[off + 1] as number;
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) {
        if (b.length - off < 4) break;
        len = b.readUInt16BE(off + 2);
        head = 4;
      } else if (len === 127) {
        if (b.length - off < 10) break;
        len = Number(b.readBigUInt64BE(off + 2));
        head = 10;
      }
      if (b1 & 0x80) return this.onFail(new Error('masked server frame'));
      if (b.length - off < head + len) break;
      this.frame(b0 & 0x80, b0 & 0x0f, b.subarray(off + head, off + head + len));
      off += head + len;
    }
    if (off < b.length) this.buf = Buffer.from(b.subarray(off)); // copy: keep the rest, not the chunk
  }

  private frame(fin: number, opcode: number, payload: Buffer): void {
    if (opcode === 0x9) return this.sendFrame(maskedFrame(0xa, payload)); // ping → pong
    if (opcode === 0xa) return;
    if (opcode === 0x8) {
      if (this.state === 'open') this.sock.write(maskedFrame(0x8, payload.subarray(0, 2)));
      this.state = 'closing';
      this.sock.end();
      return;
    }
    // Text (1) or continuation (0): reassemble, then parse.
    if (!fin) {
      this.fragments.push(Buffer.from(payload));
      return;
    }
    let text: string;
    if (this.fragments.length === 0) text = payload.toString();
    else {
      text = Buffer.concat([...this.fragments, payload]).toString();
      this.fragments = [];
    }
    let f: ServerFrame;
    try {
      f = JSON.parse(text) as ServerFrame;
    } catch {
      // Not a Parley server: fail the open, or drop the connection (never throw in 'data').
      this.onFail(new Error('malformed server frame'));
      this.sock.destroy();
      return;
    }
    if (this.awaitingReady) {
      this.awaitingReady = false;
      if (f.type === 'ready') this.onReady(f);
      else this.onFail(new Error(`expected ready, got ${f.type}`));
      return;
    }
    this.onFrame(f);
  }
}
