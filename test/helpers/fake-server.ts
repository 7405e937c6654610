/**
 * A scripted fake Parley WebSocket server for SDK unit tests (after centrifuge-js's
 * fakeServer.ts): it checks the subprotocols, sends `ready`, records every frame it
 * receives, and lets the test send frames, close with a code, or drop the connection.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { AUTH_PROTOCOL_PREFIX, PROTOCOL } from '@parley/protocol';
import type { ClientFrame, ErrorBody, ReadyFrame, ServerFrame } from '@parley/protocol';

export interface FakeServerOptions {
  /** Token the client must offer; any other closes with 4001 after the upgrade. Default 'token'. */
  token?: string;
  /** Fields of the `ready` sent on connect, or false to send none. Default: a ready with heartbeatMs 25_000. */
  ready?: Partial<ReadyFrame> | false;
  /** Answer `ping` with `pong`. Default true. */
  pong?: boolean;
  /** Refuse every upgrade with this HTTP error instead of accepting it. Default: accept. */
  rejectUpgrade?: { status: number; body: ErrorBody } | false;
}

/** An HTTP reply the fake server gives to a plain request. */
export interface HttpReply {
  status: number;
  body: unknown;
}

interface Waiter {
  check: () => boolean;
  resolve: () => void;
}

/** Resolve once `check()` holds, re-checking whenever `notify()` runs. */
class Conditions {
  #waiters: Waiter[] = [];
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ check, resolve }));
  }
  notify(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }
}

/** One accepted connection. */
export class FakeConnection {
  /** Request path and query string of the upgrade. */
  readonly url: string;
  /** Subprotocols the client offered, in order. */
  readonly protocols: string[];
  /** Every frame received, parsed, in order. */
  readonly frames: ClientFrame[] = [];
  /** Binary frames received (the SDK should send none). */
  binaryFrames = 0;
  /** Close code once the socket closed (either side), else undefined. */
  closeCode: number | undefined;
  readonly #socket: WebSocket;
  readonly #conditions = new Conditions();

  constructor(socket: WebSocket, req: IncomingMessage, protocols: string[], pong: boolean) {
    this.#socket = socket;
    this.url = req.url ?? '';
    this.protocols = protocols;
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        this.binaryFrames++;
        return;
      }
      const frame = JSON.parse(String(data)) as ClientFrame;
      this.frames.push(frame);
      if (pong && frame.type === 'ping') this.send({ type: 'pong' });
      this.#conditions.notify();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      this.#conditions.notify();
    });
  }

  /** Frames of one type received so far. */
  framesOf<T extends ClientFrame['type']>(type: T): Extract<ClientFrame, { type: T }>[] {
    return this.frames.filter((f): f is Extract<ClientFrame, { type: T }> => f.type === type);
  }

  /** Wait until at least `count` frames of `type` arrived; returns all of that type. */
  async waitFor<T extends ClientFrame['type']>(
    type: T,
    count = 1,
  ): Promise<Extract<ClientFrame, { type: T }>[]> {
    await this.#conditions.until(() => this.framesOf(type).length >= count);
    return this.framesOf(type);
  }

  /** Wait until the socket is closed. */
  async closed(): Promise<number> {
    await this.#conditions.until(() => this.closeCode !== undefined);
    return this.closeCode ?? 0;
  }

  /** Send a frame (any JSON, so tests can send frames a future server might). */
  send(frame: ServerFrame | Record<string, unknown>): void {
    this.#socket.send(JSON.stringify(frame));
  }

  /** Send raw text. */
  sendRaw(data: string): void {
    this.#socket.send(data);
  }

  /** Close with a code (close handshake). */
  close(code: number, reason = ''): void {
    this.#socket.close(code, reason);
  }

  /** Drop the TCP connection without a close frame (the client sees 1006). */
  drop(): void {
    this.#socket.terminate();
  }
}

export class FakeServer {
  /** HTTP base URL to give the SDK, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Accepted connections, oldest first. */
  readonly connections: FakeConnection[] = [];
  /** Options in effect; tests may change them between connections. */
  readonly options: Required<FakeServerOptions>;
  /** Replies to plain HTTP requests, keyed by "METHOD /path"; others get 404 not_found. */
  readonly httpReplies = new Map<string, HttpReply>();
  /** Plain HTTP requests received, as "METHOD /path". */
  readonly httpRequests: string[] = [];
  /** Upgrade requests received, refused ones included. */
  upgrades = 0;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #conditions = new Conditions();

  private constructor(http: Server, options: Required<FakeServerOptions>) {
    this.#http = http;
    this.options = options;
    this.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    this.#wss = new WebSocketServer({
      noServer: true,
      // Answer with the protocol name only, never with the token entry.
      handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
    });
    http.on('request', (req, res) => {
      const key = `${req.method ?? ''} ${req.url ?? ''}`;
      this.httpRequests.push(key);
      const reply = this.httpReplies.get(key) ?? {
        status: 404,
        body: { code: 'not_found', message: 'Not found', retryable: false },
      };
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body));
      this.#conditions.notify();
    });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.upgrades++;
      const reject = this.options.rejectUpgrade;
      if (reject !== false) {
        const body = JSON.stringify(reject.body);
        socket.end(
          `HTTP/1.1 ${reject.status} Refused\r\ncontent-type: application/json\r\n` +
            `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
      } else if ((req.url ?? '').split('?')[0] !== '/v1/ws') {
        socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      } else {
        this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
      }
      this.#conditions.notify();
    });
  }

  static async start(options: FakeServerOptions = {}): Promise<FakeServer> {
    const http = createServer();
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(0, '127.0.0.1', resolve);
    });
    return new FakeServer(http, {
      token: options.token ?? 'token',
      ready: options.ready ?? {},
      pong: options.pong ?? true,
      rejectUpgrade: options.rejectUpgrade ?? false,
    });
  }

  /** Wait until `check()` holds, re-checked on every connection, upgrade and HTTP request. */
  until(check: () => boolean): Promise<void> {
    return this.#conditions.until(check);
  }

  #accept(socket: WebSocket, req: IncomingMessage): void {
    const header = req.headers['sec-websocket-protocol'] ?? '';
    const protocols = header
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    const conn = new FakeConnection(socket, req, protocols, this.options.pong);
    this.connections.push(conn);
    const token = protocols
      .find((p) => p.startsWith(AUTH_PROTOCOL_PREFIX))
      ?.slice(AUTH_PROTOCOL_PREFIX.length);
    if (token !== this.options.token) {
      conn.close(4001, 'Missing, invalid or revoked session token');
    } else if (this.options.ready !== false) {
      conn.send({
        type: 'ready',
        userId: 'u1',
        deviceId: 'd1',
        pos: 0,
        cursor: '0',
        heartbeatMs: 25_000,
        serverId: 'fake',
        ...this.options.ready,
      });
    }
    this.#conditions.notify();
  }

  /** Wait for connection number `index` (0-based) and return it. */
  async connection(index: number): Promise<FakeConnection> {
    await this.#conditions.until(() => this.connections.length > index);
    const conn = this.connections[index];
    if (conn === undefined) throw new Error('unreachable');
    return conn;
  }

  /** Close every connection and stop listening. */
  async stop(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    this.#wss.close();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }
}
