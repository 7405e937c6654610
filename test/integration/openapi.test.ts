/** GET /v1/openapi.json against docs/protocol.md and against what the server really accepts. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, uname } from '../helpers/raw.js';
import { ROOT, startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';

interface Operation {
  security?: unknown[];
  requestBody?: { content: { 'application/json': { schema: object } } };
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

/** Every row of docs/protocol.md's route tables: `| GET | `/v1/sync` | yes | ...`. */
function documentedRoutes(): { method: string; path: string; auth: boolean }[] {
  const md = readFileSync(join(ROOT, 'docs/protocol.md'), 'utf8');
  const rows = [...md.matchAll(/^\|\s*(GET|POST|PUT|PATCH|DELETE)\s*\|\s*`([^`]+)`\s*\|\s*(yes|no)\s*\|/gm)];
  return rows.map(([, method, path, auth]) => ({
    method: (method ?? '').toLowerCase(),
    // OpenAPI writes path parameters as {id}, Fastify and the docs as :id.
    path: (path ?? '').replace(/:(\w+)/g, '{$1}'),
    auth: auth === 'yes',
  }));
}

let server: ServerHandle;
let doc: OpenApiDocument;

beforeAll(async () => {
  server = await startServer();
  const res = await fetch(`${server.url}/v1/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as OpenApiDocument;
});

afterAll(async () => {
  await server.stop();
  server.cleanup();
});

describe('GET /v1/openapi.json', () => {
  it('is an OpenAPI 3.1 document', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
  });

  it('has every route of docs/protocol.md, with its method and whether it needs the token', () => {
    const routes = documentedRoutes();
    // The summary table of §3 and the push routes of §12.2, at least.
    expect(routes.length).toBeGreaterThanOrEqual(40);
    const missing = routes.filter((r) => doc.paths[r.path]?.[r.method] === undefined);
    expect(missing).toEqual([]);
    const wrongAuth = routes.filter(
      (r) => (doc.paths[r.path]?.[r.method]?.security !== undefined) !== r.auth,
    );
    expect(wrongAuth).toEqual([]);
  });

  it('leaves the web app files out', () => {
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/assets/') || p.endsWith('.js'))).toEqual([]);
  });

  it('documents the optional mute of mentions in the mute body', () => {
    const schema =
      doc.paths['/v1/conversations/{id}/mute']?.put?.requestBody?.content['application/json'].schema;
    expect(schema).toMatchObject({
      required: ['until'],
      properties: { mentions: { type: 'boolean' } },
      additionalProperties: false,
    });
  });

  it('gives POST /v1/users the body schema the server validates with', async () => {
    const schema = doc.paths['/v1/users']?.post?.requestBody?.content['application/json'].schema;
    expect(schema).toMatchObject({ type: 'object', required: ['username', 'password'] });
    const documented = new Ajv({ strict: false }).compile(schema ?? {});
    const long = 'x'.repeat(
      (schema as { properties: { username: { maxLength: number } } }).properties.username.maxLength + 1,
    );
    const bodies = [
      { username: uname(), password: 'password123' },
      { username: uname(), password: 'password123', displayName: 'Ana' },
      { username: uname() },
      { password: 'password123' },
      { username: long, password: 'password123' },
      { username: uname(), password: 123 },
      { username: uname(), password: 'password123', displayName: 7 },
    ];
    for (const body of bodies) {
      const res = await api(server.url, 'POST', '/v1/users', body);
      expect({ body, status: res.status }).toEqual({ body, status: documented(body) ? 201 : 400 });
    }
  });
});
