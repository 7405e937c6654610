/**
 * Apple Push Notification service for iOS and macOS apps: HTTP/2 (node:http2) with token
 * authentication, an ES256 JWT with the key id (`kid`) and team id (`iss`), refreshed well
 * within the hour Apple accepts it.
 */
import { readFileSync } from 'node:fs';
import { connect, constants } from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import type { KeyObject } from 'node:crypto';
import type { PushSubscriptionRow } from '../../store/store.js';
import { privateKey, signJwt } from '../jwt.js';
import type { PushMessage, PushProvider, PushResult } from '../provider.js';
import { PUSH_CONNECT_TIMEOUT_MS, PUSH_REQUEST_TIMEOUT_MS, resultForStatus } from '../provider.js';
import { OUTBOUND_MAX_BODY_BYTES } from '../outbound.js';

export interface ApnsProviderOptions {
  /** The `.p8` signing key: its PEM text, or the path of the file. */
  key: string;
  /** Key id (10 characters, from the Apple developer account). */
  keyId: string;
  /** Team id (the JWT issuer). */
  teamId: string;
  /** The app's bundle id (`apns-topic`). */
  topic: string;
  /**
   * APNs base URL. Default https://api.push.apple.com; https://api.sandbox.push.apple.com for
   * development builds. An http: URL speaks HTTP/2 without TLS (h2c), for local stand-ins.
   */
  baseUrl?: string;
  /** Time allowed for one request, ms. Default 10000. */
  timeoutMs?: number;
  /** Time allowed to connect, ms. Default 3000. */
  connectTimeoutMs?: number;
}

/** A device token: hex (32 bytes today; Apple may make them longer). */
export const APNS_TOKEN = /^[0-9a-fA-F]{64,200}$/;

/** Reasons APNs gives for a token that will never work again (400/410). */
const GONE_REASONS = new Set(['BadDeviceToken', 'Unregistered', 'DeviceTokenNotForTopic']);
/** Reasons that mean our provider token must be made again. */
const TOKEN_REASONS = new Set(['ExpiredProviderToken', 'InvalidProviderToken', 'MissingProviderToken']);

/** Apple refuses tokens refreshed more than once per 20 minutes and older than an hour. */
const JWT_REFRESH_MS = 40 * 60_000;

export class ApnsProvider implements PushProvider {
  readonly kind = 'apns' as const;
  private readonly signingKey: KeyObject;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  private jwt: { value: string; at: number } | undefined;
  private session: ClientHttp2Session | undefined;

  constructor(private readonly opts: ApnsProviderOptions) {
    if (!opts.keyId || !opts.teamId || !opts.topic) {
      throw new Error('APNs needs --apns-key-id, --apns-team-id and --apns-topic');
    }
    const pem = opts.key.includes('-----BEGIN') ? opts.key : readFileSync(opts.key, 'utf8');
    this.signingKey = privateKey(pem);
    this.baseUrl = (opts.baseUrl || 'https://api.push.apple.com').replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? PUSH_REQUEST_TIMEOUT_MS;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? PUSH_CONNECT_TIMEOUT_MS;
  }

  private bearer(): string {
    const now = Date.now();
    if (!this.jwt || now - this.jwt.at > JWT_REFRESH_MS) {
      const value = signJwt(
        'ES256',
        { kid: this.opts.keyId },
        { iss: this.opts.teamId, iat: Math.floor(now / 1000) },
        this.signingKey,
      );
      this.jwt = { value, at: now };
    }
    return this.jwt.value;
  }

  /** One HTTP/2 connection for every request, made again when it closes or fails. */
  private connection(): ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const session = connect(this.baseUrl);
    const timer = setTimeout(
      () => session.destroy(new Error(`apns: connect timed out after ${this.connectTimeoutMs} ms`)),
      this.connectTimeoutMs,
    );
    timer.unref();
    session.once('connect', () => clearTimeout(timer));
    session.once('close', () => clearTimeout(timer));
    session.on('error', () => {
      if (this.session === session) this.session = undefined;
    });
    session.on('goaway', () => {
      if (this.session === session) this.session = undefined;
    });
    session.on('close', () => {
      if (this.session === session) this.session = undefined;
    });
    // An idle connection must not keep the process alive.
    session.unref();
    this.session = session;
    return session;
  }

  send(sub: PushSubscriptionRow, message: PushMessage): Promise<PushResult> {
    const body = JSON.stringify({
      aps: {
        alert: { title: message.title, body: message.body },
        sound: 'default',
        'thread-id': message.payload.conversationId,
      },
      parley: message.payload,
    });
    return new Promise<PushResult>((resolve) => {
      let session: ClientHttp2Session;
      try {
        session = this.connection();
      } catch (err) {
        resolve({ outcome: 'retry', reason: `apns: ${err instanceof Error ? err.message : String(err)}` });
        return;
      }
      const req = session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: `/3/device/${sub.address}`,
        authorization: `bearer ${this.bearer()}`,
        'apns-topic': this.opts.topic,
        'apns-push-type': 'alert',
        'apns-priority': '10',
        'apns-expiration': String(Math.floor(Date.now() / 1000) + message.ttlSec),
        'apns-collapse-id': message.collapseKey,
        'content-type': 'application/json',
        'accept-encoding': 'identity',
      });
      req.setTimeout(this.timeoutMs, () => req.close(constants.NGHTTP2_CANCEL));
      let status = 0;
      let retryAfter: string | undefined;
      const chunks: Buffer[] = [];
      req.on('response', (headers) => {
        status = Number(headers[constants.HTTP2_HEADER_STATUS]);
        const ra = headers['retry-after'];
        retryAfter = Array.isArray(ra) ? ra[0] : ra;
      });
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        if (bytes > OUTBOUND_MAX_BODY_BYTES) return;
        bytes += chunk.length;
        // APNs answers a few bytes of JSON: past the cap, stop reading (the reason is lost).
        if (bytes > OUTBOUND_MAX_BODY_BYTES) req.close(constants.NGHTTP2_CANCEL);
        else chunks.push(chunk);
      });
      req.on('error', (err) => resolve({ outcome: 'retry', reason: `apns: ${err.message}` }));
      req.on('close', () => {
        if (status === 0) return resolve({ outcome: 'retry', reason: 'apns: no answer' });
        let reason = '';
        try {
          const text = Buffer.concat(chunks).toString('utf8');
          reason = String((JSON.parse(text) as { reason?: unknown }).reason ?? '');
        } catch {
          // No JSON body (200 has none).
        }
        if ((status === 400 || status === 410) && GONE_REASONS.has(reason)) {
          return resolve({ outcome: 'gone', reason: `apns ${status} ${reason}` });
        }
        if (status === 403 && TOKEN_REASONS.has(reason)) {
          this.jwt = undefined;
          return resolve({ outcome: 'retry', reason: `apns 403 ${reason}`, retryAfterMs: 0 });
        }
        resolve(resultForStatus(status, retryAfter, reason ? `apns ${reason}` : 'apns'));
      });
      req.end(body);
    });
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s && !s.closed) await new Promise<void>((r) => s.close(() => r()));
  }
}
