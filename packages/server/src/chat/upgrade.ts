import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { AUTH_PROTOCOL_PREFIX, ERRORS, PROTOCOL } from '@parley/protocol';
import type { ErrorCode } from '@parley/protocol';
import type { AuthContext, AuthService } from '../auth/auth-service.js';
import type { Logger } from '../logger.js';
import type { ConnectionRegistry } from './connection-registry.js';

/** Token from `Authorization: Bearer …` or from the `parley.auth.<token>` subprotocol; never from the URL. */
export function tokenFromUpgrade(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const protocols = req.headers['sec-websocket-protocol'];
  if (typeof protocols === 'string') {
    for (const p of protocols.split(',')) {
      const t = p.trim();
      if (t.startsWith(AUTH_PROTOCOL_PREFIX)) return t.slice(AUTH_PROTOCOL_PREFIX.length);
    }
  }
  return null;
}

/** `https://a.example, http://b.example:8080` as a set of origins (scheme, host, port). */
export function parseOrigins(list: string): Set<string> {
  const out = new Set<string>();
  for (const raw of list.split(',')) {
    const o = raw.trim();
    if (o === '') continue;
    try {
      out.add(new URL(o).origin);
    } catch {
      throw new Error(`--allowed-origins: not an origin: ${o}`);
    }
  }
  return out;
}

/**
 * Whether a browser page from `origin` may open a WebSocket here: the same origin as the
 * request's Host, or one of `allowed`. No Origin header (a non-browser client) is allowed.
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: Set<string>,
): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // e.g. `null` from a sandboxed frame or a file: page
  }
  if (allowed.has(url.origin)) return true;
  return host !== undefined && url.host === host.toLowerCase();
}

/** Answer a refused upgrade with the registry's HTTP status and JSON error body, then close. */
export function rejectUpgrade(socket: Duplex, code: ErrorCode): void {
  const spec = ERRORS[code];
  const body = JSON.stringify({ code, message: spec.message, retryable: spec.retryable });
  socket.end(
    `HTTP/1.1 ${spec.status} ${STATUS_CODES[spec.status] ?? ''}\r\nContent-Type: application/json\r\n` +
      'Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export interface UpgradeOptions {
  /** Browser origins allowed besides the server's own, comma-separated. */
  allowedOrigins: string;
  /** Most sockets of one device on this server. */
  maxConnectionsPerDevice: number;
  /** Most sockets of one user on this server, all devices together. */
  maxConnectionsPerUser: number;
}

/**
 * Everything an upgrade must pass before it becomes a WebSocket, in order: the path, the
 * server not draining, our subprotocol, the page's Origin, a valid token, and the socket
 * caps per device and per user.
 */
export class UpgradeGate {
  private readonly allowedOrigins: Set<string>;

  constructor(
    private readonly opts: UpgradeOptions,
    private readonly auth: AuthService,
    private readonly registry: ConnectionRegistry,
    private readonly log: Logger,
  ) {
    this.allowedOrigins = parseOrigins(opts.allowedOrigins);
  }

  /** The authenticated device, or the error code to refuse the upgrade with. */
  async check(req: IncomingMessage, accepting: boolean): Promise<AuthContext | ErrorCode> {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v1/ws') return 'not_found';
    if (!accepting) return 'server_shutdown';
    // A page of another site must not use a browser's connection to this server.
    if (!originAllowed(req.headers.origin, req.headers.host, this.allowedOrigins))
      return 'origin_not_allowed';
    const offered = req.headers['sec-websocket-protocol'];
    // A browser fails a handshake that answers none of its subprotocols: insist on ours.
    if (typeof offered === 'string' && !offered.split(',').some((p) => p.trim() === PROTOCOL)) {
      return 'invalid_field';
    }
    const token = tokenFromUpgrade(req);
    let ctx: AuthContext | null = null;
    try {
      ctx = token ? await this.auth.authenticate(token) : null;
    } catch (err) {
      this.log.error({ err }, 'authentication failed');
      return 'unavailable';
    }
    if (!ctx) return 'unauthorized';
    if (this.registry.deviceCount(ctx.deviceId) >= this.opts.maxConnectionsPerDevice) return 'rate_limited';
    if (this.registry.userCount(ctx.userId) >= this.opts.maxConnectionsPerUser) return 'rate_limited';
    return ctx;
  }
}
