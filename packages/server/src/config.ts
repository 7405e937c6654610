/**
 * Server options. Every limit is a named option with its default here; flags and env vars
 * (see cli.ts and docs/deploy.md) override them.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_FRAME_BYTES, TYPING_TTL_MS } from '@parley/protocol';

export interface ServerConfig {
  /**
   * What this process serves (flag --role, env PARLEY_ROLE): `all` (default: HTTP API and
   * WebSocket chat), `api` (stateless HTTP API and discovery only) or `chat` (WebSocket chat
   * service; registers itself in discovery; also answers the HTTP API).
   */
  role: 'all' | 'api' | 'chat';
  /**
   * PostgreSQL URL (flag --db, env PARLEY_DB or DATABASE_URL); several, comma-separated, for a
   * sharded deployment (the first is the catalog). Empty: the embedded SQLite store.
   */
  db: string;
  /**
   * For each logical shard, the index in `db` of its database, comma-separated (flag
   * --db-shard-map). Empty: contiguous ranges. Set it when moving a shard to another database.
   */
  dbShardMap: string;
  /** Redis URL (flag --redis, env PARLEY_REDIS or REDIS_URL). Empty: in-process bus and presence. */
  redis: string;
  /** Prefix of every Redis key and channel, so deployments can share a Redis. Default `parley:`. */
  redisPrefix: string;
  /** Most PostgreSQL connections of this process. Default 10. */
  dbPoolMax: number;
  /** WebSocket URL clients use to reach this chat server (discovery). Default: ws://<host>:<port>/v1/ws. */
  publicUrl: string;
  /** Region this chat server is in; discovery prefers servers in the client's region. Default `default`. */
  region: string;
  /** How often a chat server writes its address and load into discovery, ms. Default 250. */
  discoveryHeartbeatMs: number;
  /** Discovery stops naming a chat server this long after its last heartbeat (Redis key TTL), ms. Default 1000. */
  discoveryStaleMs: number;
  /**
   * Which proxies to believe about the client address (X-Forwarded-For), for per-address
   * rate limits behind a load balancer: `true`, a hop count, or comma-separated addresses or
   * CIDRs of the proxies. Default empty: trust no one (the peer address is the client).
   */
  trustProxy: string;
  /** TCP port (env PORT, flag --port). Default 8080; 0 picks a free port. */
  port: number;
  /** Listen address (env HOST, flag --host). Default 127.0.0.1; use 0.0.0.0 to serve a network. */
  host: string;
  /** Directory of the embedded store (flag --data-dir, env PARLEY_DATA_DIR). Default ./data. */
  dataDir: string;
  /** pino log level (env LOG_LEVEL). Default info. */
  logLevel: string;
  /** Embedded store durability, see SqliteStoreOptions. Default normal. */
  durability: 'normal' | 'full';
  /**
   * Check the embedded store's file at start (`PRAGMA quick_check`, which reads every page)
   * and refuse to serve a damaged one. Default true.
   */
  storeQuickCheck: boolean;
  /** Interval at which clients should heartbeat, ms. Default 5000. */
  heartbeatMs: number;
  /** A connection with no frame for this long is closed as dead, and a user with no heartbeat from any device for this long is offline, ms. Default 30000. */
  heartbeatTimeoutMs: number;
  /** Hard cap of one incoming WebSocket frame, bytes; larger closes with 1009. Default 1 MiB. */
  maxFrameBytes: number;
  /** Largest HTTP request body, bytes. Default 1 MiB. */
  maxBodyBytes: number;
  /** Bytes queued to one socket before it is closed as a slow consumer (4008). Default 8 MiB. */
  maxBufferedBytes: number;
  /**
   * An HTTP connection that sends and receives nothing for this long is closed, ms: one that
   * never sends a request, or whose request or answer stalls. 0: never. Default 30000.
   * Between requests, `httpKeepAliveTimeoutMs` applies; a WebSocket, its heartbeat.
   */
  httpConnectionTimeoutMs: number;
  /** Time to receive a request's headers, from its first byte, ms; then 408 and close. 0: no limit. Default 10000. */
  httpHeadersTimeoutMs: number;
  /** Time to receive a whole request, body included, ms; then 408 and close. 0: no limit. Default 30000. */
  httpRequestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long, ms; keep it above the idle timeout of any proxy in front. Default 72000. */
  httpKeepAliveTimeoutMs: number;
  /** Most open TCP connections of this process, HTTP and WebSocket together; more are closed at once. 0: no cap. Default 100000. */
  maxConnections: number;
  /** Sustained sends per second per user, all devices and sockets together, WebSocket and HTTP (token bucket, per process). Default 50. */
  sendRatePerSec: number;
  /** Burst of sends per user above the sustained rate. Default 200. */
  sendBurst: number;
  /** Sustained bytes of message text (UTF-8) one user may send per second (token bucket, per process). Default 1048576. */
  sendBytesPerSec: number;
  /** Burst of message text bytes per user above the sustained rate. Default 16777216. */
  sendBytesBurst: number;
  /** Frames of any kind one WebSocket may send per second; over it sends get `rate_limited`, other frames are dropped (reads coalesced). Default 100. */
  frameRatePerSec: number;
  /** Burst of frames per WebSocket above the sustained rate. Default 200. */
  frameBurst: number;
  /** Sustained searches (`GET /v1/search`) per second per user (token bucket, per process). Default 5. */
  searchRatePerSec: number;
  /** Burst of searches per user above the sustained rate. Default 20. */
  searchBurst: number;
  /** Serialized JSON bytes after which a history, sync or catch-up page takes no more messages (at least one). Default 1048576. */
  maxPageBytes: number;
  /**
   * Browser origins allowed to open a WebSocket, comma-separated (`https://chat.example.com`).
   * Empty (default): only the origin whose host is the request's Host. Upgrades with no
   * Origin header (non-browser clients) are always allowed.
   */
  allowedOrigins: string;
  /** Signups and logins per minute per client address. Default 30. */
  authRatePerMin: number;
  /** Other HTTP requests per minute per client address; `/healthz`, `/readyz` and `/metrics` have a bucket of this size of their own. Default 1200. */
  httpRatePerMin: number;
  /**
   * Bearer token `GET /metrics` requires (`Authorization: Bearer <token>`; env
   * PARLEY_METRICS_TOKEN or PARLEY_METRICS_TOKEN_FILE). Default empty: no token, so serve
   * metrics only on a private address (`metricsPort`) or behind a proxy that hides them.
   */
  metricsToken: string;
  /** Serve `/metrics` on a listener of its own on this port instead of the API's. Default 0: on the API's listener. */
  metricsPort: number;
  /** Address of the `/metrics` listener when `metricsPort` is set. Default 127.0.0.1. */
  metricsHost: string;
  /** scrypt cost as log2(N). Default 17 (OWASP). Lower only for tests and benchmarks. */
  scryptLogN: number;
  /**
   * Password hashes computed at once (logins and signups); more wait their turn, so a flood
   * of logins leaves cores and libuv's thread pool (4 threads) to everything else. 0: no
   * limit. Default 2.
   */
  scryptConcurrency: number;
  /** Failed logins allowed for one username, from any address, before each further attempt must wait. Default 5. */
  loginFreeFailures: number;
  /** Wait after the first failed login past `loginFreeFailures`, ms; it doubles with each further failure. Default 1000. */
  loginBackoffBaseMs: number;
  /** Longest wait of a username after failed logins, ms; a successful login ends it. Default 300000 (5 min). */
  loginBackoffMaxMs: number;
  /** A username's failed logins are forgotten this long after the last one, ms. Default 3600000. */
  loginFailureResetMs: number;
  /** Most sends committed in one store transaction (group commit). Default 512. */
  maxBatch: number;
  /** Most simultaneous WebSocket connections per device token. Default 4. */
  maxConnectionsPerDevice: number;
  /** Most simultaneous WebSocket connections per user on one chat server, all devices together. Default 20. */
  maxConnectionsPerUser: number;
  /** Most devices (logged-in sessions) per user; a login past it signs out the device used longest ago. 0: no cap. Default 20. */
  maxDevicesPerUser: number;
  /** Typing indicators a connection may send per second (extra ones are dropped silently). Default 1. */
  typingRatePerSec: number;
  /** Burst of typing indicators above the sustained rate. Default 3. */
  typingBurst: number;
  /** How long clients show a typing indicator without a refresh, ms. Default 6000. */
  typingTtlMs: number;
  /** New conversations (1:1 and groups) one user may create per hour; more answer `rate_limited`. 0: no cap. Default 60. */
  maxNewConversationsPerHour: number;
  /** After a user declines (or drops) my contact request, I may ask them again only this much later, ms. Default 86400000 (24 h). */
  contactRequestCooldownMs: number;
  /** Delivered/read receipts are batched and broadcast this often, ms. Default 200. */
  receiptFlushMs: number;
  /** Last-active times are persisted this often, ms (at most one write per user per interval). Default 60000. */
  presenceFlushMs: number;
  /** A gap in a connection's live feed (a lost or late bus event) is filled from the store after this long, ms. Default 1000. */
  gapFillMs: number;
  /** Time allowed for a graceful shutdown (drain) before exiting anyway, ms. Default 10000 (at most 30000 makes sense). */
  shutdownTimeoutMs: number;
  /** Server id reported in `ready` and logs. Default: random. */
  serverId: string;

  // ---- push notifications (see README "Push notifications") ----
  /**
   * A device whose app is in the foreground counts as in use, and gets no push, until nobody
   * used it (sent, read, typed, reported activity) for this long, ms. Every other device of
   * the member is notified. Default 60000.
   */
  pushIdleMs: number;
  /** How often each server looks for due notifications when none were queued here, ms. Default 1000. */
  pushPollMs: number;
  /** Notifications sent at once by one server. Default 16. */
  pushConcurrency: number;
  /** Notifications sent at once by one server to one Web Push origin (scheme, host, port), so a slow push service holds only these. Default 8. */
  pushConcurrencyPerOrigin: number;
  /** Time allowed to connect to a push service, ms. Default 3000. */
  pushConnectTimeoutMs: number;
  /** Time allowed for one request to a push service, reply included, ms; then it is retried later. Default 10000. */
  pushTimeoutMs: number;
  /** Attempts per notification before it is dropped. Default 10. */
  pushMaxAttempts: number;
  /** A notification not delivered this long after its message is dropped (also the Web Push TTL), seconds. Default 86400. */
  pushTtlSec: number;
  /** First retry delay without a Retry-After (full-jitter exponential backoff), ms. Default 1000. */
  pushRetryBaseMs: number;
  /** Longest wait before a retry, Retry-After included, ms. Default 3600000. */
  pushRetryMaxMs: number;
  /** Sent and dropped notifications kept (so a message is never queued twice) at most; past it the oldest are purged, however young. Default 100000. */
  pushKeepFinishedJobs: number;
  /** Push subscriptions kept per device; one more replaces the oldest. Default 2. */
  pushMaxSubscriptionsPerDevice: number;
  /** Push subscriptions kept per user, all devices together; one more replaces the oldest. Default 20. */
  pushMaxSubscriptionsPerUser: number;
  /** VAPID public key, base64url (env PARLEY_VAPID_PUBLIC_KEY). Empty (default): generated on first start and kept in the store. */
  vapidPublicKey: string;
  /** VAPID private key, base64url (env PARLEY_VAPID_PRIVATE_KEY); given with the public key. */
  vapidPrivateKey: string;
  /** VAPID contact, a mailto: or https: URL (env PARLEY_VAPID_SUBJECT). Apple's push service refuses localhost. Default mailto:parley@localhost. */
  vapidSubject: string;
  /**
   * Accept http: Web Push endpoints and let Web Push connect to loopback, private and other
   * non-public addresses (local push services in tests only). Default false: https: only, and
   * every connection's resolved address must be public.
   */
  webPushAllowHttp: boolean;
  /** FCM service-account key: the JSON, or the path of the file (env PARLEY_FCM_SERVICE_ACCOUNT). Empty (default): no FCM. */
  fcmServiceAccount: string;
  /** Firebase project id. Default: the service account's project_id. */
  fcmProjectId: string;
  /** FCM API base URL. Default https://fcm.googleapis.com. */
  fcmBaseUrl: string;
  /** OAuth2 token endpoint for FCM. Default: the service account's token_uri. */
  fcmTokenUrl: string;
  /** APNs signing key (.p8): the PEM, or the path of the file (env PARLEY_APNS_KEY). Empty (default): no APNs. */
  apnsKey: string;
  /** APNs key id. */
  apnsKeyId: string;
  /** Apple developer team id. */
  apnsTeamId: string;
  /** The iOS app's bundle id (apns-topic). */
  apnsTopic: string;
  /** APNs base URL. Default https://api.push.apple.com (https://api.sandbox.push.apple.com for development builds). */
  apnsBaseUrl: string;

  // ---- link previews (see docs/media.md "Link previews") ----
  /**
   * Fetch the title, description and image of the first page a message links to, through the
   * address guard (public addresses only). False turns previews off server-wide. Default true.
   */
  linkPreviews: boolean;

  // ---- attachments (see docs/media.md) ----
  /** Largest upload, bytes; a larger `Upload-Length` is answered 413. Default 104857600 (100 MiB). */
  maxUploadBytes: number;
  /** Bytes of files one user may keep stored (uploads and attachments); past it `quota_exceeded`. Default 1073741824 (1 GiB). */
  uploadQuotaBytes: number;
  /** Uploads one user may create per minute; past it `rate_limited`. Default 60. */
  uploadsPerMin: number;
  /** An upload never attached to a message is removed this long after it was created, ms. Default 86400000. */
  uploadGraceMs: number;
  /** How often the sweep removes stale uploads, ms. Default 600000; at most the grace. */
  uploadSweepMs: number;
  /**
   * S3 bucket of uploaded files (flag --blobs-s3-bucket). Empty (default): a directory,
   * `<dataDir>/blobs`. Required with several API servers (`--role api`): they must share the
   * files. Credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, as the AWS SDK reads them.
   */
  blobsS3Bucket: string;
  /** S3 endpoint URL, for S3-compatible services (MinIO, R2…). Empty: AWS. */
  blobsS3Endpoint: string;
  /** S3 region. Default us-east-1. */
  blobsS3Region: string;
}

export const DEFAULT_CONFIG: Omit<ServerConfig, 'serverId'> = {
  role: 'all',
  db: '',
  dbShardMap: '',
  redis: '',
  redisPrefix: 'parley:',
  dbPoolMax: 10,
  publicUrl: '',
  region: 'default',
  discoveryHeartbeatMs: 250,
  discoveryStaleMs: 1000,
  trustProxy: '',
  port: 8080,
  host: '127.0.0.1',
  dataDir: './data',
  logLevel: 'info',
  durability: 'normal',
  storeQuickCheck: true,
  heartbeatMs: 5000,
  heartbeatTimeoutMs: 30_000,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxBodyBytes: 1024 * 1024,
  maxBufferedBytes: 8 * 1024 * 1024,
  httpConnectionTimeoutMs: 30_000,
  httpHeadersTimeoutMs: 10_000,
  httpRequestTimeoutMs: 30_000,
  httpKeepAliveTimeoutMs: 72_000,
  maxConnections: 100_000,
  sendRatePerSec: 50,
  sendBurst: 200,
  sendBytesPerSec: 1024 * 1024,
  sendBytesBurst: 16 * 1024 * 1024,
  frameRatePerSec: 100,
  frameBurst: 200,
  searchRatePerSec: 5,
  searchBurst: 20,
  maxPageBytes: 1024 * 1024,
  allowedOrigins: '',
  authRatePerMin: 30,
  httpRatePerMin: 1200,
  metricsToken: '',
  metricsPort: 0,
  metricsHost: '127.0.0.1',
  scryptLogN: 17,
  scryptConcurrency: 2,
  loginFreeFailures: 5,
  loginBackoffBaseMs: 1000,
  loginBackoffMaxMs: 300_000,
  loginFailureResetMs: 3_600_000,
  maxBatch: 512,
  maxConnectionsPerDevice: 4,
  maxConnectionsPerUser: 20,
  maxDevicesPerUser: 20,
  typingRatePerSec: 1,
  typingBurst: 3,
  typingTtlMs: TYPING_TTL_MS,
  maxNewConversationsPerHour: 60,
  contactRequestCooldownMs: 86_400_000,
  receiptFlushMs: 200,
  presenceFlushMs: 60_000,
  gapFillMs: 1000,
  shutdownTimeoutMs: 10_000,
  pushIdleMs: 60_000,
  pushPollMs: 1000,
  pushConcurrency: 16,
  pushConcurrencyPerOrigin: 8,
  pushConnectTimeoutMs: 3000,
  pushTimeoutMs: 10_000,
  pushMaxAttempts: 10,
  pushTtlSec: 86_400,
  pushRetryBaseMs: 1000,
  pushRetryMaxMs: 3_600_000,
  pushKeepFinishedJobs: 100_000,
  pushMaxSubscriptionsPerDevice: 2,
  pushMaxSubscriptionsPerUser: 20,
  vapidPublicKey: '',
  vapidPrivateKey: '',
  vapidSubject: 'mailto:parley@localhost',
  webPushAllowHttp: false,
  fcmServiceAccount: '',
  fcmProjectId: '',
  fcmBaseUrl: 'https://fcm.googleapis.com',
  fcmTokenUrl: '',
  apnsKey: '',
  apnsKeyId: '',
  apnsTeamId: '',
  apnsTopic: '',
  apnsBaseUrl: 'https://api.push.apple.com',
  linkPreviews: true,
  maxUploadBytes: 100 * 1024 * 1024,
  uploadQuotaBytes: 1024 * 1024 * 1024,
  uploadsPerMin: 60,
  uploadGraceMs: 86_400_000,
  uploadSweepMs: 600_000,
  blobsS3Bucket: '',
  blobsS3Endpoint: '',
  blobsS3Region: 'us-east-1',
};

/** `heartbeatMs` → `heartbeat-ms`, the flag's name. */
export const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
/** `heartbeatMs` → `PARLEY_HEARTBEAT_MS`, the env var's name. */
export const envName = (k: string) => `PARLEY_${kebab(k).replace(/-/g, '_').toUpperCase()}`;

/**
 * The value of env var `name`, or the content of the file named by `name_FILE` (one trailing
 * newline dropped), as Docker and Kubernetes secrets are given. Both set is an error.
 */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const file = env[`${name}_FILE`];
  if (file === undefined || file === '') return env[name];
  if (env[name] !== undefined) throw new Error(`set ${name} or ${name}_FILE, not both`);
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new Error(
      `${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
}

/** Options from env vars (or the files their `_FILE` variants name) then flags, typed like the defaults. */
export function readConfig(argv: string[], env: NodeJS.ProcessEnv): Partial<ServerConfig> {
  const options: Record<string, { type: 'string' }> = {};
  for (const k of Object.keys(DEFAULT_CONFIG)) options[kebab(k)] = { type: 'string' };
  options['server-id'] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const out: Record<string, unknown> = {};
  const keys = [...Object.keys(DEFAULT_CONFIG), 'serverId'];
  for (const k of keys) {
    let raw = (values as Record<string, string | undefined>)[kebab(k)] ?? envValue(env, envName(k));
    if (raw === undefined && k === 'port') raw = envValue(env, 'PORT');
    if (raw === undefined && k === 'host') raw = envValue(env, 'HOST');
    if (raw === undefined && k === 'logLevel') raw = envValue(env, 'LOG_LEVEL');
    if (raw === undefined && k === 'db') raw = envValue(env, 'DATABASE_URL');
    if (raw === undefined && k === 'redis') raw = envValue(env, 'REDIS_URL');
    if (raw === undefined) continue;
    const def = (DEFAULT_CONFIG as Record<string, unknown>)[k];
    if (typeof def === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${kebab(k)} must be a non-negative number`);
      out[k] = n;
    } else if (typeof def === 'boolean') {
      if (!['true', 'false', '1', '0'].includes(raw)) throw new Error(`--${kebab(k)} must be true or false`);
      out[k] = raw === 'true' || raw === '1';
    } else out[k] = raw;
  }
  if (out.durability !== undefined && out.durability !== 'normal' && out.durability !== 'full') {
    throw new Error('--durability must be normal or full');
  }
  if (out.role !== undefined && !['all', 'api', 'chat'].includes(out.role as string)) {
    throw new Error('--role must be all, api or chat');
  }
  return out as Partial<ServerConfig>;
}
