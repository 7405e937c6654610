import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { AuthService } from './auth/auth-service.js';
import { scryptHasher } from './auth/passwords.js';
import type { Bus } from './bus/bus.js';
import { MemoryBus } from './bus/memory/memory-bus.js';
import { ChatServer } from './chat/chat-server.js';
import { DEFAULT_CONFIG } from './config.js';
import type { ServerConfig } from './config.js';
import { ConversationService } from './conversations/conversation-service.js';
import { errorBody, errorHandler } from './http/errors.js';
import { registerRoutes } from './http/routes.js';
import { createLogger } from './logger.js';
import type { Logger } from './logger.js';
import { MessageService } from './messages/message-service.js';
import { createMetrics } from './metrics.js';
import type { Metrics } from './metrics.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import type { Store } from './store/store.js';
import { landingPage } from './http/landing.js';
import { ContactService } from './contacts/contact-service.js';
import { MemoryPresence } from './presence/memory/memory-presence.js';
import type { PresenceTracker } from './presence/presence.js';
import { PresenceService } from './presence/presence-service.js';
import { ReceiptService } from './receipts/receipt-service.js';

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
  /** Graceful stop: refuse new work, finish in-flight writes, close sockets with 1001. */
  close(): Promise<void>;
}

/** Strict body validation (no type coercion); query strings and params are coerced from text. */
function validatorCompiler() {
  const opts = { removeAdditional: true, useDefaults: true, allErrors: false } as const;
  const strict = new Ajv({ ...opts, coerceTypes: false });
  const coercing = new Ajv({ ...opts, coerceTypes: true });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema);
}

/** Build a Parley server (embedded store and in-process bus unless given others). */
export function createParley(
  options: Partial<ServerConfig> & { store?: Store; bus?: Bus; presence?: PresenceTracker } = {},
): Parley {
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
    new SqliteStore({ path: join(config.dataDir, 'parley.db'), durability: config.durability });
  const bus = options.bus ?? new MemoryBus();
  const auth = new AuthService(store, scryptHasher(config.scryptLogN), bus);
  const conversations = new ConversationService(store, bus);
  const messages = new MessageService(store, bus, conversations, metrics, log, { maxBatch: config.maxBatch });
  const receipts = new ReceiptService(store, bus, log, config.receiptFlushMs);
  messages.receipts = receipts;
  const tracker = options.presence ?? new MemoryPresence(config.heartbeatTimeoutMs);
  const presence = new PresenceService(tracker, store, bus, log, config.presenceFlushMs);
  const contacts = new ContactService(store, bus, presence);
  const chat = new ChatServer(config, auth, messages, store, bus, metrics, log, tracker, receipts);

  const http = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxBodyBytes,
    trustProxy: false,
    return503OnClosing: true,
  });
  http.setValidatorCompiler(validatorCompiler());
  http.setErrorHandler(errorHandler(log, metrics));
  http.setNotFoundHandler((_req, reply) => {
    void reply.status(404).send(errorBody('not_found'));
  });
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
      authRatePerMin: config.authRatePerMin,
    });
  });
  http.get('/healthz', async (_req, reply) =>
    ready ? { ok: true } : reply.status(503).send(errorBody('unavailable')),
  );
  http.get('/readyz', async (_req, reply) => {
    try {
      await store.ping();
      return ready ? { ok: true } : reply.status(503).send(errorBody('unavailable'));
    } catch {
      return reply.status(503).send(errorBody('unavailable'));
    }
  });
  http.get('/metrics', async (_req, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  http.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(landingPage()));

  http.server.on('upgrade', (req, socket, head) => {
    chat.handleUpgrade(req, socket, head).catch((err: unknown) => {
      log.error({ err }, 'upgrade failed');
      socket.destroy();
    });
  });

  let closing: Promise<void> | undefined;
  return {
    config,
    http,
    store,
    log,
    lifecycle,
    metrics,
    async listen() {
      await http.listen({ port: config.port, host: config.host });
      ready = true;
      const port = (http.server.address() as AddressInfo).port;
      lifecycle.info(
        { port, host: config.host, serverId: config.serverId, url: `http://${config.host}:${port}` },
        'listening',
      );
      return port;
    },
    close() {
      closing ??= (async () => {
        ready = false;
        await chat.shutdown();
        await messages.drain();
        await receipts.close();
        await presence.close();
        await http.close();
        await bus.close();
        await store.close();
        lifecycle.info('stopped');
      })();
      return closing;
    },
  };
}
