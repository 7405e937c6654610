/**
 * The HTTP API as an OpenAPI 3.1 document at `GET /v1/openapi.json`, generated from the JSON
 * schemas the routes validate with (@fastify/swagger in dynamic mode), so it cannot drift from
 * what the server accepts. docs/protocol.md §3 stays the reference for answers and errors.
 */
import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';

/** The routes outside `/v1` that belong in the document; the web app's files do not. */
const OPERATIONS = new Set(['/', '/healthz', '/readyz', '/metrics']);

/** Groups of routes, named after the sections of docs/protocol.md §3. */
function tagOf(url: string): string {
  if (
    /^\/v1\/conversations\/:id\/(messages|read|receipts)$/.test(url) ||
    url === '/v1/sync' ||
    url === '/v1/search'
  )
    return 'messages';
  const [, , first] = url.split('/');
  switch (first) {
    case 'users':
    case 'sessions':
    case 'me':
    case 'devices':
      return 'accounts';
    case 'conversations':
      return 'conversations';
    case 'contacts':
    case 'blocks':
      return 'contacts';
    case 'presence':
      return 'presence';
    case 'discovery':
      return 'discovery';
    case 'push':
      return 'push';
    default:
      return 'operations';
  }
}

/**
 * Give each route its tag and, when it checks a bearer token, its security requirement; hide
 * everything else (the web app's files) and routes that ask to be hidden. Authenticated routes
 * are the ones with a preHandler.
 */
function describeRoute({ schema, url, route }: { schema: FastifySchema; url: string; route: RouteOptions }) {
  const shown = url.startsWith('/v1/') || OPERATIONS.has(url);
  return {
    url,
    schema: {
      ...schema,
      // A route may hide itself too (the tus endpoint: a protocol of its own, not JSON operations).
      hide: !shown || (schema as { hide?: boolean } | undefined)?.hide === true,
      tags: [tagOf(url)],
      ...(route.preHandler ? { security: [{ bearer: [] }] } : {}),
    },
  };
}

/**
 * Register the generator on the root instance, before any route, so it sees every route added
 * after it (in any plugin scope).
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Parley HTTP API',
        version: '1',
        description:
          'Generated from the schemas the server validates requests with. Answers, error codes and ' +
          'guarantees: docs/protocol.md.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a session token' } },
      },
    },
    transform: describeRoute,
  });
}

/** `GET /v1/openapi.json`, no auth: the document, built once on first request. */
export function registerOpenApiRoute(scope: FastifyInstance): void {
  scope.get('/v1/openapi.json', async () => scope.swagger());
}
