/**
 * Outbound HTTP/1.1 requests to push services (and any later outbound call): a reply is read
 * up to a few KB and the rest discarded with the connection, nothing is decompressed
 * (`accept-encoding: identity`, and node:http never inflates), redirects are not followed, a
 * connection must be made within a short connect timeout and the whole exchange within the
 * request timeout. With `guard`, every connection goes only to public addresses
 * (net/address-guard.ts).
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import { checkConnectAddress, guardedLookup } from '../net/address-guard.js';
import type { LookupFunction } from '../net/address-guard.js';

export interface OutboundOptions {
  /** Most bytes of a reply body kept; past it the connection is closed. Default 4096. */
  maxBodyBytes?: number;
  /** Time allowed to open a connection, ms. Default 3000. */
  connectTimeoutMs?: number;
  /** Time allowed for one whole request, reply body included, ms. Default 10000. */
  timeoutMs?: number;
  /** Connect only to public addresses (checked on every connection). Default false. */
  guard?: boolean;
  /** Resolver the guard checks (tests inject one). Default: the system resolver. */
  lookup?: LookupFunction;
}

export interface OutboundRequest {
  method: string;
  headers: Record<string, string>;
  body?: Uint8Array | string | null;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** At most `maxBodyBytes` of the reply body. */
  body: Buffer;
  /** The reply had more than `maxBodyBytes`: the rest was not read. */
  truncated: boolean;
}

/** Default most bytes of a push service's reply kept: their error bodies are a few hundred. */
export const OUTBOUND_MAX_BODY_BYTES = 4096;
/** Default connect timeout, ms. */
export const OUTBOUND_CONNECT_TIMEOUT_MS = 3000;
/** Default time for a whole request, ms. */
export const OUTBOUND_TIMEOUT_MS = 10_000;

/** Reads bodies with a cap, on keep-alive connections of its own. */
export class OutboundClient {
  readonly maxBodyBytes: number;
  private readonly connectTimeoutMs: number;
  private readonly timeoutMs: number;
  private readonly lookup: LookupFunction | undefined;
  private readonly http: http.Agent;
  private readonly https: https.Agent;

  constructor(opts: OutboundOptions = {}) {
    this.maxBodyBytes = opts.maxBodyBytes ?? OUTBOUND_MAX_BODY_BYTES;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? OUTBOUND_CONNECT_TIMEOUT_MS;
    this.timeoutMs = opts.timeoutMs ?? OUTBOUND_TIMEOUT_MS;
    this.lookup = opts.guard ? guardedLookup(opts.lookup) : undefined;
    this.http = new http.Agent({ keepAlive: true });
    this.https = new https.Agent({ keepAlive: true });
  }

  request(target: string | URL, init: OutboundRequest): Promise<OutboundResponse> {
    const url = typeof target === 'string' ? new URL(target) : target;
    const tls = url.protocol === 'https:';
    if (!tls && url.protocol !== 'http:') return Promise.reject(new Error(`unsupported URL ${url.protocol}`));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (this.lookup && isIP(host) !== 0) {
      // No lookup happens for an IP literal: check it here.
      try {
        checkConnectAddress(host, host);
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    const body = init.body === undefined || init.body === null ? undefined : Buffer.from(init.body);
    const headers: Record<string, string> = { ...init.headers, 'accept-encoding': 'identity' };
    if (body) headers['content-length'] = String(body.length);
    return new Promise<OutboundResponse>((resolve, reject) => {
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const done = (err: Error | null, res?: OutboundResponse) => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(res as OutboundResponse);
      };
      const req = (tls ? https : http).request(url, {
        method: init.method,
        headers,
        agent: tls ? this.https : this.http,
        ...(this.lookup ? { lookup: this.lookup } : {}),
      });
      timers.push(setTimeout(() => done(new Error(`timed out after ${this.timeoutMs} ms`)), this.timeoutMs));
      req.on('socket', (socket: Socket) => {
        if (!socket.connecting) return;
        const t = setTimeout(
          () => done(new Error(`connect timed out after ${this.connectTimeoutMs} ms`)),
          this.connectTimeoutMs,
        );
        timers.push(t);
        socket.once('connect', () => {
          clearTimeout(t);
          // The address really connected to, whatever resolved it.
          if (this.lookup) {
            try {
              checkConnectAddress(host, socket.remoteAddress);
            } catch (err) {
              socket.destroy();
              done(err as Error);
            }
          }
        });
      });
      req.on('error', (err) => done(err));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        const reply = (truncated: boolean) => ({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          truncated,
        });
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          const room = this.maxBodyBytes - kept;
          if (chunk.length <= room) {
            chunks.push(chunk);
            kept += chunk.length;
            return;
          }
          chunks.push(chunk.subarray(0, room));
          // Stop reading: the connection goes, with whatever the peer still sends.
          res.destroy();
          done(null, reply(true));
        });
        res.on('end', () => done(null, reply(false)));
        res.on('error', (err) => done(err));
        res.on('close', () => done(new Error('connection closed before the reply ended')));
      });
      req.end(body);
    });
  }

  /** Close idle connections. */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
