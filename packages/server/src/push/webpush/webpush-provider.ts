/**
 * Web Push (RFC 8030) for browsers and the PWA, with VAPID (RFC 8292) authentication and
 * payloads encrypted as RFC 8291 requires (aes128gcm, RFC 8188), both done by the `web-push`
 * library; this file only sends the request it prepares and reads the answer.
 */
import webpush from 'web-push';
import type { PushSubscriptionRow, ServerValueStore } from '../../store/store.js';
import type { PushMessage, PushProvider, PushResult } from '../provider.js';
import { PUSH_CONNECT_TIMEOUT_MS, PUSH_REQUEST_TIMEOUT_MS, resultForStatus } from '../provider.js';
import { BlockedAddressError, isPrivateHost } from '../../net/address-guard.js';
import type { LookupFunction } from '../../net/address-guard.js';
import { OutboundClient } from '../outbound.js';
import type { OutboundResponse } from '../outbound.js';

export interface VapidKeys {
  /** Uncompressed P-256 public key, base64url (the browser's `applicationServerKey`). */
  publicKey: string;
  /** P-256 private key, base64url. */
  privateKey: string;
  /** Contact the push service may use: a `mailto:` or `https:` URL (RFC 8292 §2.1). */
  subject: string;
}

/**
 * The server's VAPID keys: from the options when both are given, else the pair kept in the
 * store, generated and stored on first start (every server of a cluster gets the same pair).
 */
export async function loadVapidKeys(
  values: ServerValueStore,
  opts: { publicKey: string; privateKey: string; subject: string },
): Promise<VapidKeys> {
  if (opts.publicKey !== '' || opts.privateKey !== '') {
    if (opts.publicKey === '' || opts.privateKey === '') {
      throw new Error('--vapid-public-key and --vapid-private-key must be given together');
    }
    const keys = { publicKey: opts.publicKey, privateKey: opts.privateKey, subject: opts.subject };
    // Throws on keys of the wrong length or a subject that is not mailto: or https:.
    webpush.getVapidHeaders(
      'https://push.example',
      keys.subject,
      keys.publicKey,
      keys.privateKey,
      'aes128gcm',
    );
    return keys;
  }
  const stored = JSON.parse(
    await values.serverValue('vapid', JSON.stringify(webpush.generateVAPIDKeys())),
  ) as {
    publicKey: string;
    privateKey: string;
  };
  return { publicKey: stored.publicKey, privateKey: stored.privateKey, subject: opts.subject };
}

const b64urlBytes = (s: string): number =>
  /^[A-Za-z0-9_-]*={0,2}$/.test(s) ? Buffer.from(s, 'base64url').length : -1;

/**
 * Why a browser subscription cannot be used, or null. The endpoint must be an https: URL on
 * a public host name or address (http: and private addresses only with `allowHttp`, for
 * local push services in tests); p256dh an uncompressed P-256 point (65 bytes) and auth a
 * 16-byte secret (RFC 8291 §3.2).
 */
export function checkWebPushSubscription(
  endpoint: string,
  keys: { p256dh: string; auth: string },
  allowHttp: boolean,
): string | null {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'endpoint is not a URL';
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:'))
    return 'endpoint must be an https: URL';
  if (url.username !== '' || url.password !== '') return 'endpoint must not carry credentials';
  if (!allowHttp && isPrivateHost(url.hostname)) return 'endpoint must be on a public host';
  if (b64urlBytes(keys.p256dh) !== 65 || Buffer.from(keys.p256dh, 'base64url')[0] !== 4) {
    return 'keys.p256dh must be an uncompressed P-256 public key (65 bytes, base64url)';
  }
  if (b64urlBytes(keys.auth) !== 16) return 'keys.auth must be 16 bytes, base64url';
  return null;
}

export interface WebPushProviderOptions {
  /** Time allowed for one request, ms. Default 10000. */
  timeoutMs?: number;
  /** Time allowed to connect, ms. Default 3000. */
  connectTimeoutMs?: number;
  /**
   * Connect to private, loopback and other non-public addresses too (local push services in
   * tests). Default false: every connection is checked against the addresses it resolves to.
   */
  allowPrivate?: boolean;
  /** Resolver whose answers are checked (tests). Default: the system resolver. */
  lookup?: LookupFunction;
}

export class WebPushProvider implements PushProvider {
  readonly kind = 'webpush' as const;
  private readonly client: OutboundClient;

  constructor(
    readonly keys: VapidKeys,
    opts: WebPushProviderOptions = {},
  ) {
    this.client = new OutboundClient({
      guard: !(opts.allowPrivate ?? false),
      timeoutMs: opts.timeoutMs ?? PUSH_REQUEST_TIMEOUT_MS,
      connectTimeoutMs: opts.connectTimeoutMs ?? PUSH_CONNECT_TIMEOUT_MS,
      ...(opts.lookup ? { lookup: opts.lookup } : {}),
    });
  }

  /** A subscription's destination: its endpoint's origin (scheme, host and port). */
  destination(sub: PushSubscriptionRow): string {
    try {
      return new URL(sub.address).origin;
    } catch {
      return sub.address;
    }
  }

  async send(sub: PushSubscriptionRow, message: PushMessage): Promise<PushResult> {
    let details: ReturnType<typeof webpush.generateRequestDetails>;
    try {
      details = webpush.generateRequestDetails(
        { endpoint: sub.address, keys: { p256dh: sub.p256dh ?? '', auth: sub.auth ?? '' } },
        message.json,
        {
          vapidDetails: this.keys,
          contentEncoding: 'aes128gcm',
          TTL: message.ttlSec,
          topic: message.collapseKey,
          // A chat message is for now (RFC 8030 §5.3): wake the device.
          urgency: 'high',
        },
      );
    } catch (err) {
      return { outcome: 'rejected', reason: `web push: ${err instanceof Error ? err.message : String(err)}` };
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(details.headers)) {
      // The client sets the length itself.
      if (k.toLowerCase() !== 'content-length') headers[k] = String(v);
    }
    let res: OutboundResponse;
    try {
      // Redirects are not followed: a 3xx is refused like any other unexpected status.
      res = await this.client.request(details.endpoint, {
        method: 'POST',
        headers,
        body: details.body === null ? null : new Uint8Array(details.body),
      });
    } catch (err) {
      // An endpoint that leads into a private network will not lead anywhere else next time.
      if (err instanceof BlockedAddressError)
        return { outcome: 'rejected', reason: `web push: ${err.message}` };
      return { outcome: 'retry', reason: `web push: ${err instanceof Error ? err.message : String(err)}` };
    }
    const retryAfter = res.headers['retry-after'];
    return resultForStatus(res.status, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, 'web push');
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
