/**
 * Firebase Cloud Messaging for Android apps (and iOS apps that use FCM), HTTP v1 API: a
 * service account's JWT is exchanged for an OAuth2 access token (RFC 7523), which
 * authorizes `POST /v1/projects/{project}/messages:send`.
 */
import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import type { PushSubscriptionRow } from '../../store/store.js';
import { privateKey, signJwt } from '../jwt.js';
import type { PushMessage, PushProvider, PushResult } from '../provider.js';
import { PUSH_CONNECT_TIMEOUT_MS, PUSH_REQUEST_TIMEOUT_MS, resultForStatus } from '../provider.js';
import { OutboundClient } from '../outbound.js';
import type { OutboundResponse } from '../outbound.js';

/** The fields of a Google service-account key file that matter here. */
export interface ServiceAccount {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  project_id?: string;
  token_uri?: string;
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

/** A service account from the option's value: the key file's JSON, or the path of the file. */
export function loadServiceAccount(value: string): ServiceAccount {
  const text = value.trim().startsWith('{') ? value : readFileSync(value, 'utf8');
  const account = JSON.parse(text) as Partial<ServiceAccount>;
  if (typeof account.client_email !== 'string' || typeof account.private_key !== 'string') {
    throw new Error('FCM service account needs client_email and private_key');
  }
  return account as ServiceAccount;
}

export interface FcmProviderOptions {
  account: ServiceAccount;
  /** Firebase project id. Default: the service account's `project_id`. */
  projectId?: string;
  /** Base URL of the FCM API. Default https://fcm.googleapis.com (tests point it at a stand-in). */
  baseUrl?: string;
  /** OAuth2 token endpoint. Default: the service account's `token_uri`, else Google's. */
  tokenUrl?: string;
  /** Time allowed for one request, ms. Default 10000. */
  timeoutMs?: number;
  /** Time allowed to connect, ms. Default 3000. */
  connectTimeoutMs?: number;
}

/** A well-formed FCM registration token (opaque: letters, digits and `:_-.`). */
export const FCM_TOKEN = /^[A-Za-z0-9_:.-]{16,4096}$/;

export class FcmProvider implements PushProvider {
  readonly kind = 'fcm' as const;
  private readonly key: KeyObject;
  private readonly project: string;
  private readonly sendUrl: string;
  private readonly tokenUrl: string;
  private readonly client: OutboundClient;
  /** The token endpoint's answer carries the token itself: a larger cap than for sends. */
  private readonly tokenClient: OutboundClient;
  private token: { value: string; expiresAt: number } | undefined;
  private tokenPending: Promise<string> | undefined;

  constructor(private readonly opts: FcmProviderOptions) {
    this.key = privateKey(opts.account.private_key);
    const project = opts.projectId || opts.account.project_id;
    if (!project) throw new Error('FCM needs a project id (--fcm-project-id or the account project_id)');
    this.project = project;
    const base = (opts.baseUrl || 'https://fcm.googleapis.com').replace(/\/+$/, '');
    this.sendUrl = `${base}/v1/projects/${encodeURIComponent(project)}/messages:send`;
    this.tokenUrl = opts.tokenUrl || opts.account.token_uri || GOOGLE_TOKEN_URL;
    const timeouts = {
      timeoutMs: opts.timeoutMs ?? PUSH_REQUEST_TIMEOUT_MS,
      connectTimeoutMs: opts.connectTimeoutMs ?? PUSH_CONNECT_TIMEOUT_MS,
    };
    this.client = new OutboundClient(timeouts);
    this.tokenClient = new OutboundClient({ ...timeouts, maxBodyBytes: 64 * 1024 });
  }

  /** An access token, reused until a minute before it expires; one exchange at a time. */
  private accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt > Date.now() + 60_000) return Promise.resolve(this.token.value);
    this.tokenPending ??= this.exchange().finally(() => (this.tokenPending = undefined));
    return this.tokenPending;
  }

  private async exchange(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const header = this.opts.account.private_key_id ? { kid: this.opts.account.private_key_id } : {};
    const assertion = signJwt(
      'RS256',
      header,
      { iss: this.opts.account.client_email, scope: SCOPE, aud: this.tokenUrl, iat: now, exp: now + 3600 },
      this.key,
    );
    const res = await this.tokenClient.request(this.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion,
      }).toString(),
    });
    let body: { access_token?: unknown; expires_in?: unknown } = {};
    try {
      body = JSON.parse(res.body.toString('utf8')) as typeof body;
    } catch {
      // Not JSON (or cut at the cap): no token.
    }
    if (res.status < 200 || res.status >= 300 || typeof body.access_token !== 'string') {
      throw new Error(`FCM OAuth2 token request failed with ${res.status}`);
    }
    const ttl = typeof body.expires_in === 'number' ? body.expires_in : 3600;
    this.token = { value: body.access_token, expiresAt: Date.now() + ttl * 1000 };
    return body.access_token;
  }

  async send(sub: PushSubscriptionRow, message: PushMessage): Promise<PushResult> {
    // FCM data values are strings.
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(message.payload)) data[k] = String(v);
    const body = {
      message: {
        token: sub.address,
        data,
        notification: { title: message.title, body: message.body },
        android: {
          collapse_key: message.collapseKey,
          priority: 'HIGH',
          ttl: `${message.ttlSec}s`,
          // Same tag: the conversation's notification is replaced, not stacked.
          notification: { tag: message.collapseKey },
        },
        apns: { headers: { 'apns-collapse-id': message.collapseKey } },
      },
    };
    let res: OutboundResponse;
    try {
      const token = await this.accessToken();
      res = await this.client.request(this.sendUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (err) {
      return { outcome: 'retry', reason: `fcm: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (res.status === 401) {
      // The access token was revoked or expired early: get a new one and try again at once.
      this.token = undefined;
      return { outcome: 'retry', reason: 'fcm 401', retryAfterMs: 0 };
    }
    // SENDER_ID_MISMATCH: the token belongs to another Firebase project; it will never work here.
    if (res.status === 403 && res.body.toString('utf8').includes('SENDER_ID_MISMATCH'))
      return { outcome: 'gone', reason: 'fcm 403' };
    const retryAfter = res.headers['retry-after'];
    return resultForStatus(res.status, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, 'fcm');
  }

  async close(): Promise<void> {
    this.client.close();
    this.tokenClient.close();
  }
}
