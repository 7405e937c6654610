import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { errorBody } from './errors.js';
import type { Metrics } from '../metrics.js';

/** How long a `/readyz` answer is reused: probes from many balancers cost one store round trip a second. */
export const READY_CACHE_MS = 1000;

export interface OperationsDeps {
  /** Listening and not draining. */
  serving(): boolean;
  /** Why the store can no longer serve (a corrupt file, a dead store thread), if it can't. */
  storeFailure(): Error | undefined;
  /** Resolves when the store answers a trivial query. */
  ping(): Promise<void>;
  metrics: Metrics;
  /** Bearer token `/metrics` requires; empty: none. */
  metricsToken: string;
  /** Serve `/metrics` here (false when a separate listener serves it). */
  serveMetrics: boolean;
}

/** Does the request carry `Authorization: Bearer <token>`? Compared in constant time. */
export function hasBearer(headers: IncomingHttpHeaders, token: string): boolean {
  const h = headers.authorization ?? '';
  const given = h.startsWith('Bearer ') ? h.slice(7).trim() : '';
  // Digests have one length whatever was sent, as timingSafeEqual needs.
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return given !== '' && timingSafeEqual(digest(given), digest(token));
}

/** The Prometheus text, or 401 without the token when one is configured. */
export async function metricsAnswer(
  metrics: Metrics,
  token: string,
  headers: IncomingHttpHeaders,
): Promise<{ status: number; type: string; body: string }> {
  if (token !== '' && !hasBearer(headers, token)) {
    return { status: 401, type: 'application/json', body: JSON.stringify(errorBody('unauthorized')) };
  }
  return { status: 200, type: metrics.registry.contentType, body: await metrics.registry.metrics() };
}

/** `/healthz`, `/readyz` and (unless on its own listener) `/metrics`, in a rate-limited scope. */
export function registerOperations(app: FastifyInstance, d: OperationsDeps): void {
  const down = (reply: { status(n: number): { send(b: unknown): unknown } }) =>
    reply.status(503).send(errorBody('unavailable'));

  // Liveness: a store that failed for good makes the process worth restarting.
  app.get('/healthz', async (_req, reply) => (d.serving() && !d.storeFailure() ? { ok: true } : down(reply)));

  let last: { at: number; ok: Promise<boolean> } | undefined;
  app.get('/readyz', async (_req, reply) => {
    const now = Date.now();
    if (!last || now - last.at >= READY_CACHE_MS) {
      last = {
        at: now,
        ok: d.ping().then(
          () => true,
          () => false,
        ),
      };
    }
    const ok = (await last.ok) && d.serving() && !d.storeFailure();
    return ok ? { ok: true } : down(reply);
  });

  if (!d.serveMetrics) return;
  app.get('/metrics', async (req, reply) => {
    const a = await metricsAnswer(d.metrics, d.metricsToken, req.headers);
    return reply.status(a.status).header('content-type', a.type).send(a.body);
  });
}

/**
 * A listener of its own for `/metrics` (`--metrics-port`), to bind to a private address while
 * the API listens publicly. Everything else answers 404.
 */
export function metricsListener(metrics: Metrics, token: string): Server {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify(errorBody('not_found')));
      return;
    }
    metricsAnswer(metrics, token, req.headers).then(
      (a) => res.writeHead(a.status, { 'content-type': a.type }).end(a.body),
      () => res.writeHead(500).end(),
    );
  });
  // A scraper holds one keep-alive connection; an idle or stalled one is let go.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 65_000;
  return server;
}
