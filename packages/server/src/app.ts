import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import type { Discovery } from '@parley/protocol';
import { AuthCache, AuthService } from './auth/auth-service.js';
import { MemoryLoginThrottle, RedisLoginThrottle } from './auth/login-throttle.js';
import { scryptHasher } from './auth/passwords.js';
import type { Bus } from './bus/bus.js';
import { MemoryBus } from './bus/memory/memory-bus.js';
import { RedisBus } from './bus/redis/redis-bus.js';
import { ChatServer } from './chat/chat-server.js';
import { DEFAULT_CONFIG } from './config.js';
import type { ServerConfig } from './config.js';
import { ContactService } from './contacts/contact-service.js';
import { ConversationService } from './conversations/conversation-service.js';
import { Balancer, LocalRegistry, RedisRegistry } from './discovery/registry.js';
import type { Registry } from './discovery/registry.js';
import { clientErrorHandler, errorBody, errorHandler } from './http/errors.js';
import { registerOpenApi, registerOpenApiRoute } from './http/openapi.js';
import { WEB_DIST_DIR, registerApiHeaders, registerWebApp, setApiHeaders } from './http/web.js';
import { metricsListener, registerOperations } from './http/operations.js';
import { registerRoutes } from './http/routes.js';
import { registerUploadRoutes } from './http/upload-routes.js';
import { AttachmentService } from './attachments/attachment-service.js';
import { LinkPreviewer } from './previews/link-preview.js';
import { SearchService } from './search/search-service.js';
import { createLogger } from './logger.js';
import type { Logger } from './logger.js';
import { MessageService } from './messages/message-service.js';
import { createMetrics } from './metrics.js';
import type { Metrics } from './metrics.js';
import { MemoryPresence } from './presence/memory/memory-presence.js';
import type { PresenceTracker } from './presence/presence.js';
import { PresenceService } from './presence/presence-service.js';
import { RedisPresence } from './presence/redis/redis-presence.js';
import { ReceiptService } from './receipts/receipt-service.js';
import { TypingService } from './typing/typing-service.js';
import { ApnsProvider } from './push/apns/apns-provider.js';
import { FcmProvider, loadServiceAccount } from './push/fcm/fcm-provider.js';
import type { PushProvider } from './push/provider.js';
import { PushService } from './push/push-service.js';
import { WebPushProvider, loadVapidKeys } from './push/webpush/webpush-provider.js';
import { PostgresStore } from './store/postgres/postgres-store.js';
import { looseDataModes } from './store/sqlite/sqlite-store.js';
import { openThreadedSqliteStore } from './store/sqlite/threaded-sqlite-store.js';
import type { ServerValueStore, Store } from './store/store.js';

export interface Parley {
  readonly config: ServerConfig;
  readonly http: FastifyInstance;
  readonly store: Store;
  readonly log: Logger;
  /** Logger for start/stop lines, at info whatever the configured level. */
  readonly lifecycle: Logger;
  readonly metrics: Metrics;
  /** Start listening; resolves with the bound port. */
  listen(): Promise<number>;
  /**
   * Graceful stop (drain): leave discovery, refuse new connections, tell connected clients
   * to move to another server, finish in-flight writes, close sockets with 1001.
   */
  close(): Promise<void>;
}

/** Strict body validation (no type coercion); query strings and params are coerced from text. */
function validatorCompiler() {
  const opts = { removeAdditional: true, useDefaults: true, allErrors: false } as const;
  const strict = new Ajv({ ...opts, coerceTypes: false });
  const coercing = new Ajv({ ...opts, coerceTypes: true });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    httpPart === 'body' ? strict.compile(schema) : finiteOnly(coercing.compile(schema));
}

/**
 * Ajv coerces `Infinity` and `1e309` to an "integer" that passes `minimum` and `maximum`, and
 * the store then fails on it: after coercion, a number that is not finite is refused.
 */
function finiteOnly(validate: ValidateFunction): (data: unknown) => boolean {
  const checked = (data: unknown): boolean => {
    const valid = validate(data);
    checked.errors = validate.errors;
    if (!valid || typeof data !== 'object' || data === null) return valid;
    const bad = Object.keys(data).find((k) => {
      const v = (data as Record<string, unknown>)[k];
      return typeof v === 'number' && !Number.isFinite(v);
    });
    if (bad === undefined) return true;
    checked.errors = [
      {
        instancePath: `/${bad}`,
        schemaPath: '',
        keyword: 'type',
        params: {},
        message: 'must be a finite number',
      },
    ];
    return false;
  };
  checked.errors = null as ValidateFunction['errors'];
  return checked;
}

/** `--trust-proxy`: '' (no), 'true', a hop count, or a comma-separated list of proxy addresses/CIDRs. */
function parseTrustProxy(value: string): boolean | string[] | ((address: string, hop: number) => boolean) {
  const v = value.trim();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    return (_address, hop) => hop < hops;
  }
  return v.split(',').map((x) => x.trim());
}

/**
 * How often Node looks for requests past their headers or request timeout (its default, 30 s,
 * would let a 10 s timeout run to 40 s): half the shorter timeout, between 0.1 and 30 s.
 */
function connectionsCheckingInterval(config: ServerConfig): number {
  const limits = [config.httpHeadersTimeoutMs, config.httpRequestTimeoutMs].filter((t) => t > 0);
  if (limits.length === 0) return 30_000;
  return Math.min(30_000, Math.max(100, Math.floor(Math.min(...limits) / 2)));
}

/**
 * Build a Parley server: the embedded store and in-process bus by default, PostgreSQL and
 * Redis when `db` and `redis` are set (cluster mode).
 */
export async function createParley(
  options: Partial<ServerConfig> & { store?: Store; bus?: Bus; presence?: PresenceTracker } = {},
): Promise<Parley> {
  const config: ServerConfig = {
    ...DEFAULT_CONFIG,
    serverId: `s-${randomBytes(4).toString('hex')}`,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as ServerConfig;
  const log = createLogger(config.logLevel);
  // Lifecycle lines ("listening", "stopped") are logged whatever the level: tools wait for them.
  const lifecycle = log.child({}, { level: 'info' });
  const metrics = createMetrics();
  const store =
    options.store ??
    (config.db
      ? await PostgresStore.open({
          url: config.db
            .split(',')
            .map((u) => u.trim())
            .filter((u) => u !== ''),
          shardMap: config.dbShardMap ? config.dbShardMap.split(',').map(Number) : undefined,
          max: config.dbPoolMax,
        })
      : await openThreadedSqliteStore(
          {
            path: join(config.dataDir, 'parley.db'),
            durability: config.durability,
            quickCheck: config.storeQuickCheck,
          },
          { log },
        ));
  // New data is created owner-only; data made before (or by hand) is left as is, but said.
  const loose = options.store || config.db ? [] : looseDataModes(join(config.dataDir, 'parley.db'));
  if (loose.length > 0) {
    log.warn(
      { paths: loose },
      'the data directory or database is open to other users: chmod 700 the directory and 600 its files',
    );
  }

  let redis: Redis | undefined;
  let bus: Bus;
  let tracker: PresenceTracker;
  let registry: Registry;
  if (config.redis) {
    const redisBus = new RedisBus({
      url: config.redis,
      prefix: config.redisPrefix,
      serverId: config.serverId,
      log,
    });
    bus = options.bus ?? redisBus;
    redis = new Redis(config.redis, {
      connectionName: `parley:${config.serverId}:cmd`,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 5000,
      retryStrategy: (n) => Math.min(5000, 50 * 2 ** n) * Math.random() + 20,
    });
    redis.on('error', (err) => log.debug({ err }, 'redis command connection error'));
    await Promise.all([
      redisBus.ready(),
      new Promise<void>((resolve, reject) => {
        redis?.once('ready', () => resolve());
        setTimeout(() => reject(new Error(`Redis not reachable at ${config.redis}`)), 10_000).unref();
      }),
    ]);
    tracker =
      options.presence ??
      new RedisPresence({
        redis,
        prefix: config.redisPrefix,
        node: redisBus.node,
        timeoutMs: config.heartbeatTimeoutMs,
        log,
      });
    registry = new RedisRegistry(redis, config.redisPrefix, log, config.discoveryStaleMs);
  } else {
    bus = options.bus ?? new MemoryBus();
    tracker = options.presence ?? new MemoryPresence(config.heartbeatTimeoutMs);
    registry = new LocalRegistry();
  }

  const throttleOptions = {
    freeFailures: config.loginFreeFailures,
    baseMs: config.loginBackoffBaseMs,
    maxMs: config.loginBackoffMaxMs,
    resetMs: config.loginFailureResetMs,
  };
  // Every server of a cluster sees the same failures when they share a Redis.
  const throttle = redis
    ? new RedisLoginThrottle(redis, config.redisPrefix, log, throttleOptions)
    : new MemoryLoginThrottle(throttleOptions);
  const auth = new AuthService(
    store.accounts,
    scryptHasher(config.scryptLogN, config.scryptConcurrency),
    bus,
    new AuthCache(),
    { throttle, log, maxDevicesPerUser: config.maxDevicesPerUser },
  );
  const conversations = new ConversationService(
    store.conversations,
    store.accounts,
    store.messages,
    store.social,
    bus,
    {
      maxNewConversationsPerHour: config.maxNewConversationsPerHour,
    },
  );
  const search = new SearchService(store.search, {
    ratePerSec: config.searchRatePerSec,
    burst: config.searchBurst,
  });
  const messages = new MessageService(store.messages, store.conversations, bus, conversations, metrics, log, {
    maxBatch: config.maxBatch,
    // Several batches in flight only where the store commits them in call order.
    maxInFlight: store.capabilities.orderedAppends ? 2 : 1,
    maxPageBytes: config.maxPageBytes,
    sendRatePerSec: config.sendRatePerSec,
    sendBurst: config.sendBurst,
    sendBytesPerSec: config.sendBytesPerSec,
    sendBytesBurst: config.sendBytesBurst,
    positionSpaces: store.capabilities.positionSpaces,
  });
  const receipts = new ReceiptService(store.conversations, store.messages, bus, log, config.receiptFlushMs);
  messages.receipts = receipts;
  const presence = new PresenceService(
    tracker,
    store.accounts,
    store.social,
    bus,
    log,
    config.presenceFlushMs,
  );
  const providers = await pushProviders(config, store.values);
  const push = new PushService(
    store.push,
    store.accounts,
    store.conversations,
    tracker,
    providers.list,
    metrics,
    log,
    providers.vapidPublicKey,
    {
      idleMs: config.pushIdleMs,
      pollMs: config.pushPollMs,
      concurrency: config.pushConcurrency,
      concurrencyPerOrigin: config.pushConcurrencyPerOrigin,
      maxAttempts: config.pushMaxAttempts,
      ttlSec: config.pushTtlSec,
      retryBaseMs: config.pushRetryBaseMs,
      retryMaxMs: config.pushRetryMaxMs,
      webPushAllowHttp: config.webPushAllowHttp,
      maxSubscriptionsPerDevice: config.pushMaxSubscriptionsPerDevice,
      maxSubscriptionsPerUser: config.pushMaxSubscriptionsPerUser,
      keepFinishedJobs: config.pushKeepFinishedJobs,
    },
  );
  messages.pipeline.push = push;
  messages.pipeline.pushJobs = store.push;
  const attachments = new AttachmentService(
    store.uploads,
    {
      storage: config.blobsS3Bucket
        ? {
            kind: 's3',
            bucket: config.blobsS3Bucket,
            region: config.blobsS3Region,
            ...(config.blobsS3Endpoint && { endpoint: config.blobsS3Endpoint, forcePathStyle: true }),
          }
        : { kind: 'fs', root: join(config.dataDir, 'blobs') },
      maxUploadBytes: config.maxUploadBytes,
      quotaBytes: config.uploadQuotaBytes,
      uploadsPerMin: config.uploadsPerMin,
      graceMs: config.uploadGraceMs,
      sweepMs: Math.min(config.uploadSweepMs, Math.max(1, config.uploadGraceMs)),
    },
    log,
  );
  messages.attachments = attachments;
  messages.pipeline.attachments = attachments;
  const linkPreviews = new LinkPreviewer({
    enabled: config.linkPreviews,
    // For the test suite only: lets previews reach pages served on this machine.
    allowPrivate: process.env.PARLEY_TEST_PREVIEW_ALLOW_PRIVATE === '1',
  });
  messages.previews = linkPreviews;
  const contacts = new ContactService(store.accounts, store.social, store.conversations, bus, presence, {
    requestCooldownMs: config.contactRequestCooldownMs,
  });
  conversations.presence = presence;
  contacts.conversations = conversations;
  const servesChat = config.role !== 'api';
  const chat = servesChat
    ? new ChatServer(
        config,
        auth,
        messages,
        new TypingService(store.conversations, store.social, bus, config.typingTtlMs),
        store.messages,
        store.accounts,
        bus,
        metrics,
        log,
        tracker,
        receipts,
        store.capabilities.positionSpaces,
      )
    : undefined;

  const onError = errorHandler(log, metrics);
  if (config.httpRequestTimeoutMs > 0 && config.httpHeadersTimeoutMs > config.httpRequestTimeoutMs) {
    throw new Error('--http-headers-timeout-ms must not exceed --http-request-timeout-ms');
  }
  const http = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxBodyBytes,
    trustProxy: parseTrustProxy(config.trustProxy),
    return503OnClosing: true,
    // Slow or silent clients must not hold connections (and file descriptors) forever.
    connectionTimeout: config.httpConnectionTimeoutMs,
    keepAliveTimeout: config.httpKeepAliveTimeoutMs,
    requestTimeout: config.httpRequestTimeoutMs,
    http: {
      headersTimeout: config.httpHeadersTimeoutMs,
      requestTimeout: config.httpRequestTimeoutMs,
      connectionsCheckingInterval: connectionsCheckingInterval(config),
    },
    // Errors Fastify meets while routing (an over-long or malformed path parameter) get the
    // same registry answer as every other error.
    clientErrorHandler,
    frameworkErrors: (err, req, reply) => {
      setApiHeaders(req, reply);
      onError(err, req, reply);
    },
  });
  http.setValidatorCompiler(validatorCompiler());
  http.setErrorHandler(onError);
  registerApiHeaders(http);
  http.setNotFoundHandler((_req, reply) => {
    void reply.status(404).send(errorBody('not_found'));
  });
  await registerOpenApi(http);
  let ready = false;
  http.register(async (scope) => {
    await scope.register(rateLimit, {
      max: config.httpRatePerMin,
      timeWindow: '1 minute',
      errorResponseBuilder: () => ({ statusCode: 429, ...errorBody('rate_limited') }),
    });
    registerRoutes(scope, {
      auth,
      conversations,
      messages,
      contacts,
      presence,
      push,
      search,
      linkPreviews,
      authRatePerMin: config.authRatePerMin,
    });
    registerUploadRoutes(scope, { auth, attachments, log });
    registerOpenApiRoute(scope);
    const balancer = new Balancer();
    scope.get<{ Querystring: { region?: string } }>(
      '/v1/discovery',
      {
        schema: {
          querystring: { type: 'object', properties: { region: { type: 'string', maxLength: 64 } } },
        },
      },
      async (req): Promise<Discovery> => {
        const best = balancer.pick(await registry.list(), req.query.region);
        return { url: best.url, serverId: best.id, region: best.region };
      },
    );
  });
  // Probes and scrapes have a bucket of their own, so they never eat into a client's API budget.
  http.register(async (scope) => {
    await scope.register(rateLimit, {
      max: config.httpRatePerMin,
      timeWindow: '1 minute',
      errorResponseBuilder: () => ({ statusCode: 429, ...errorBody('rate_limited') }),
    });
    registerOperations(scope, {
      serving: () => ready,
      storeFailure: () => (store as Store).failure,
      ping: () => store.ping(),
      metrics,
      metricsToken: config.metricsToken,
      serveMetrics: config.metricsPort === 0,
    });
  });
  const metricsServer = config.metricsPort > 0 ? metricsListener(metrics, config.metricsToken) : undefined;
  // The web app (packages/web, built at install) at `/`, same origin as the API.
  registerWebApp(http, WEB_DIST_DIR);

  // One cap for every TCP connection: WebSockets keep the socket their upgrade came in on.
  if (config.maxConnections > 0) http.server.maxConnections = config.maxConnections;
  let capWarnedAt = 0;
  http.server.on('drop', () => {
    if (Date.now() - capWarnedAt < 60_000) return; // once a minute is enough to notice
    capWarnedAt = Date.now();
    log.warn({ maxConnections: config.maxConnections }, 'connection cap reached: refusing new connections');
  });

  http.server.on('upgrade', (req, socket, head) => {
    if (!chat) {
      // An API server holds no connections: clients ask /v1/discovery for a chat server.
      socket.on('error', () => socket.destroy());
      const body = JSON.stringify(errorBody('not_found'));
      socket.end(
        `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    chat.handleUpgrade(req, socket, head).catch((err: unknown) => {
      log.error({ err }, 'upgrade failed');
      socket.destroy();
    });
  });

  let announce: NodeJS.Timeout | undefined;
  let publicUrl = config.publicUrl;
  const beat = async () => {
    if (!chat) return;
    try {
      await registry.heartbeat({
        id: config.serverId,
        url: publicUrl,
        region: config.region,
        load: chat.connectionCount,
        updatedAt: Date.now(),
      });
    } catch (err) {
      log.warn({ err }, 'discovery heartbeat failed');
    }
  };

  let closing: Promise<void> | undefined;
  return {
    config,
    http,
    store,
    log,
    lifecycle,
    metrics,
    async listen() {
      // A deep accept queue (4096; Linux caps it at net.core.somaxconn): a reconnect storm's SYNs
      // wait to be accepted instead of being dropped and retried by the clients 1 s later.
      await http.listen({ port: config.port, host: config.host, backlog: 4096 });
      attachments.start();
      if (metricsServer) {
        await new Promise<void>((resolve, reject) => {
          metricsServer.once('error', reject);
          metricsServer.listen(config.metricsPort, config.metricsHost, () => resolve());
        });
      }
      ready = true;
      push.start();
      const port = (http.server.address() as AddressInfo).port;
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      publicUrl ||= `ws://${host.includes(':') ? `[${host}]` : host}:${port}/v1/ws`;
      if (chat) {
        await beat();
        announce = setInterval(() => void beat(), config.discoveryHeartbeatMs);
        announce.unref();
      }
      lifecycle.info(
        {
          port,
          host: config.host,
          role: config.role,
          serverId: config.serverId,
          url: `http://${host}:${port}`,
          ws: chat ? publicUrl : undefined,
        },
        'listening',
      );
      return port;
    },
    close() {
      closing ??= (async () => {
        ready = false;
        clearInterval(announce);
        if (chat) {
          await registry.remove(config.serverId).catch(() => undefined);
          // In a cluster, clients told to move find another server through discovery.
          await chat.shutdown(config.redis ? Math.min(5000, config.shutdownTimeoutMs / 2) : 0);
        }
        await messages.drain();
        await attachments.close();
        await push.close();
        await receipts.close();
        await presence.close();
        await http.close();
        if (metricsServer) {
          metricsServer.closeAllConnections();
          await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
        }
        await bus.close();
        redis?.disconnect();
        await store.close();
        lifecycle.info('stopped');
      })();
      return closing;
    },
  };
}

/**
 * The push providers this configuration enables: Web Push always (VAPID keys from the options
 * or the store), FCM when a service account is given, APNs when a signing key is given.
 */
async function pushProviders(
  config: ServerConfig,
  values: ServerValueStore,
): Promise<{ list: PushProvider[]; vapidPublicKey: string }> {
  const keys = await loadVapidKeys(values, {
    publicKey: config.vapidPublicKey,
    privateKey: config.vapidPrivateKey,
    subject: config.vapidSubject,
  });
  const timeouts = { timeoutMs: config.pushTimeoutMs, connectTimeoutMs: config.pushConnectTimeoutMs };
  const providers: PushProvider[] = [
    new WebPushProvider(keys, { allowPrivate: config.webPushAllowHttp, ...timeouts }),
  ];
  if (config.fcmServiceAccount !== '') {
    providers.push(
      new FcmProvider({
        account: loadServiceAccount(config.fcmServiceAccount),
        projectId: config.fcmProjectId,
        baseUrl: config.fcmBaseUrl,
        ...timeouts,
        tokenUrl: config.fcmTokenUrl,
      }),
    );
  }
  if (config.apnsKey !== '') {
    providers.push(
      new ApnsProvider({
        key: config.apnsKey,
        keyId: config.apnsKeyId,
        teamId: config.apnsTeamId,
        topic: config.apnsTopic,
        baseUrl: config.apnsBaseUrl,
        ...timeouts,
      }),
    );
  }
  return { list: providers, vapidPublicKey: keys.publicKey };
}
