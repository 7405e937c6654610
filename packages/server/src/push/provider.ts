/**
 * A push provider delivers one notification to one subscription: Web Push for browsers
 * (`webpush/`), FCM for Android apps (`fcm/`), APNs for Apple apps (`apns/`). The push service
 * (push-service.ts) owns the queue, the policy and the retries; a provider only speaks its
 * service's protocol and says what the answer means.
 */
import type { PushKind, PushPayload } from '@parley/protocol';
import type { PushSubscriptionRow } from '../store/store.js';

/** One notification, ready for any provider. */
export interface PushMessage {
  payload: PushPayload;
  /** The payload as JSON (what Web Push encrypts). */
  json: string;
  /** The notification as a person sees it. */
  title: string;
  body: string;
  /**
   * Collapse key shared by every notification of one conversation: Web Push `Topic`, FCM
   * `collapse_key`, APNs `apns-collapse-id`. At most 32 characters of base64url (RFC 8030 §5.4).
   */
  collapseKey: string;
  /** How long the push service should keep it for an unreachable device, seconds. */
  ttlSec: number;
}

/** What the push service's answer means for the queue. */
export type PushResult =
  /** Accepted (2xx): the job is done, never sent again. */
  | { outcome: 'sent' }
  /** Try again later (429, 5xx, network): after `retryAfterMs` when the service said (Retry-After). */
  | { outcome: 'retry'; reason: string; retryAfterMs?: number }
  /** The endpoint or token is no longer valid (404, 410, unregistered): remove the subscription. */
  | { outcome: 'gone'; reason: string }
  /** This notification will never be accepted as it is (400, 403, 413): drop it. */
  | { outcome: 'rejected'; reason: string };

export interface PushProvider {
  readonly kind: PushKind;
  send(subscription: PushSubscriptionRow, message: PushMessage): Promise<PushResult>;
  /**
   * Where a subscription's notifications go (a Web Push endpoint's origin), for the limit of
   * sends in flight per destination. Undefined (or absent): one service for every
   * subscription, limited only by the push service's overall concurrency.
   */
  destination?(subscription: PushSubscriptionRow): string | undefined;
  /** Release connections (APNs keeps an HTTP/2 session open). */
  close?(): Promise<void>;
}

/** Longest wait a provider reports from Retry-After; longer values are capped by the push service. */
const MAX_RETRY_AFTER_MS = 7 * 24 * 3600_000;

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP date. Undefined when absent or
 * unparsable.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}

/**
 * The usual meaning of an HTTP status from a push service (RFC 8030 §5, FCM and APNs agree):
 * 2xx sent; 404 and 410 gone; 408, 429 and 5xx retry (honouring Retry-After); anything else
 * rejected.
 */
export function resultForStatus(
  status: number,
  retryAfter: string | null | undefined,
  what: string,
): PushResult {
  if (status >= 200 && status < 300) return { outcome: 'sent' };
  if (status === 404 || status === 410) return { outcome: 'gone', reason: `${what} ${status}` };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return retryAfterMs === undefined
      ? { outcome: 'retry', reason: `${what} ${status}` }
      : { outcome: 'retry', reason: `${what} ${status}`, retryAfterMs };
  }
  return { outcome: 'rejected', reason: `${what} ${status}` };
}

/** Default time allowed for one request to a push service, ms. */
export const PUSH_REQUEST_TIMEOUT_MS = 10_000;
/** Default time allowed to connect to a push service, ms. */
export const PUSH_CONNECT_TIMEOUT_MS = 3000;
