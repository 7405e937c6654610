/**
 * Fuzzing every HTTP route that takes a body, on a real server: at least 10,000 generated
 * bodies (any JSON value; the route's own fields with values of any type; strings of up to
 * 260,000 code points, on both sides of the 1 MiB body limit; unicode of every plane, lone
 * surrogates, bidi controls and NUL; nesting up to 50,000 levels; text that is not JSON or not
 * UTF-8), sent over keep-alive connections 16 at a time. Every answer must be a success or a
 * registry error with its registry status, never a 5xx, and the server must stay up, while a
 * canary pair of SDK clients chats throughout: all its messages acked and delivered at the end.
 * Then generated query strings and path parameters on every route but the deleting ones.
 * Counts and the seed are printed.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '@parley/protocol';
import type { Conversation, Session } from '@parley/protocol';
import { Canary } from '../helpers/canary.js';
import { account, api } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';

const TOTAL_CASES = 10_000;
const CONCURRENCY = 16;
/** The server's default `maxBodyBytes`. */
const BODY_LIMIT = 1024 * 1024;
const SEED = Number(process.env.PARLEY_FUZZ_SEED ?? Date.now() % 2 ** 31);

interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
}
interface Operation {
  requestBody?: { content: { 'application/json': { schema: SchemaNode } } };
  parameters?: { in: string; name: string }[];
}

interface Route {
  method: string;
  /** As served, e.g. `/v1/conversations/{id}/messages`. */
  path: string;
  /** Field names of the body schema, nested ones as `keys.auth`. */
  fields: string[];
}

/** A generated request body, kept small until it is sent. */
type Spec =
  | { kind: 'json'; value: unknown }
  | { kind: 'fields'; value: Record<string, unknown> }
  | { kind: 'huge'; field: string; unit: string; length: number }
  | { kind: 'deep'; field: string; depth: number; array: boolean }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array };

let server: ServerHandle;
let canary: Canary;
let me: Session;
let other: Session;
let group: Conversation;

beforeAll(async () => {
  server = await startServer({
    // Far above what the fuzz sends, so that requests reach validation instead of a 429.
    args: ['--login-free-failures', '1000000000'],
  });
  [me, other] = await Promise.all([account(server.url), account(server.url)]);
  await api(server.url, 'POST', '/v1/contacts', { userId: other.user.id }, me.token);
  await api(server.url, 'POST', `/v1/contacts/${me.user.id}/accept`, undefined, other.token);
  group = (
    await api<Conversation>(
      server.url,
      'POST',
      '/v1/conversations/groups',
      { name: 'Fuzz', members: [other.user.username] },
      me.token,
    )
  ).body;
  canary = await Canary.start(server.url);
});

afterAll(async () => {
  canary?.stop();
  await server?.stop();
  server?.cleanup();
});

function fieldsOf(schema: SchemaNode, prefix = ''): string[] {
  return Object.entries(schema.properties ?? {}).flatMap(([name, node]) => [
    prefix + name,
    ...fieldsOf(node, `${prefix}${name}.`),
  ]);
}

/** `{"a.b": v}` → `{"a": {"b": v}}`, each value a copy (generated values share objects). */
function nest(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(flat)) {
    const parts = key.split('.');
    let at: Record<string, unknown> = out;
    for (const p of parts.slice(0, -1)) {
      const next = at[p];
      at = (at[p] = typeof next === 'object' && next !== null && !Array.isArray(next) ? next : {}) as Record<
        string,
        unknown
      >;
    }
    at[parts[parts.length - 1] ?? ''] = structuredClone(v);
  }
  return out;
}

/** Values that sometimes are right, so that some requests get past validation too. */
function plausible(): fc.Arbitrary<unknown> {
  return fc.constantFrom(
    me.user.username,
    other.user.username,
    me.user.id,
    other.user.id,
    group.id,
    'password123',
    'webpush',
    'fcm',
    'everyone',
    'contacts',
    'nobody',
    'requests',
    0,
    1,
    3,
    null,
    true,
    false,
    [other.user.username],
    'https://push.example.com/x',
    { p256dh: 'BNcR', auth: 'tBHI' },
  );
}

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 80 }), weight: 3 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 3 },
  { arbitrary: fc.integer(), weight: 1 },
  { arbitrary: fc.double(), weight: 1 },
  { arbitrary: fc.array(fc.string({ unit: 'grapheme', maxLength: 70 }), { maxLength: 5 }), weight: 1 },
  { arbitrary: fc.constantFrom('', ' ', '\u0000', '\u202e', '\uFEFF', '\uD800', 'a'.repeat(65)), weight: 1 },
);

function specArb(route: Route): fc.Arbitrary<Spec> {
  const field = route.fields.length > 0 ? fc.constantFrom(...route.fields) : fc.constant('x');
  const fieldValues =
    route.fields.length > 0
      ? fc.dictionary(field, fc.oneof(anyValue, plausible()), { minKeys: 1 })
      : fc.constant({});
  return fc.oneof(
    { arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value): Spec => ({ kind: 'json', value })), weight: 3 },
    { arbitrary: fieldValues.map((value): Spec => ({ kind: 'fields', value })), weight: 8 },
    {
      arbitrary: fc
        .record({
          field,
          unit: fc.constantFrom('x', 'é', '日', '😀', '\u202e', ' ', '\u0000'),
          length: fc.integer({ min: 1000, max: 260_000 }),
        })
        .map((r): Spec => ({ kind: 'huge', ...r })),
      weight: 1,
    },
    {
      arbitrary: fc
        .record({ field, depth: fc.integer({ min: 1, max: 50_000 }), array: fc.boolean() })
        .map((r): Spec => ({ kind: 'deep', ...r })),
      weight: 1,
    },
    {
      arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((text): Spec => ({ kind: 'text', text })),
      weight: 1,
    },
    {
      arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes): Spec => ({ kind: 'bytes', bytes })),
      weight: 1,
    },
  );
}

function bodyOf(spec: Spec): string | Uint8Array<ArrayBuffer> {
  switch (spec.kind) {
    case 'json':
      return JSON.stringify(spec.value) ?? 'null';
    case 'fields':
      return JSON.stringify(nest(spec.value));
    case 'huge':
      return JSON.stringify(nest({ [spec.field]: spec.unit.repeat(spec.length) }));
    case 'deep': {
      const [open, close] = spec.array ? ['[', ']'] : ['{"a":', '}'];
      const inner = open.repeat(spec.depth) + '1' + close.repeat(spec.depth);
      return JSON.stringify(nest({ [spec.field]: 0 })).replace('0', inner);
    }
    case 'text':
      return spec.text;
    case 'bytes':
      return new Uint8Array(spec.bytes);
  }
}

function fill(path: string): string {
  return path
    .replace('{id}', group.id)
    .replace('{userId}', other.user.id)
    .replace('{username}', other.user.username);
}

function closedWhileSending(e: unknown): boolean {
  const code = (e as { cause?: { code?: unknown } }).cause?.code;
  return code === 'EPIPE' || code === 'ECONNRESET';
}

/** What is wrong with an answer, or null: a success, or a registry code with its status. */
function problem(status: number, text: string): string | null {
  if (status >= 500) return `status ${status}`;
  if (status < 300) return null;
  let body: { code?: unknown; message?: unknown; retryable?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return `status ${status} without a JSON error body`;
  }
  const spec =
    typeof body.code === 'string' ? (ERRORS as Record<string, { status: number }>)[body.code] : undefined;
  if (!spec) return `status ${status}, code ${String(body.code)} not in the registry`;
  if (spec.status !== status)
    return `code ${String(body.code)} with status ${status}, registry says ${spec.status}`;
  if (typeof body.message !== 'string' || typeof body.retryable !== 'boolean') return 'malformed error body';
  return null;
}

describe('HTTP body fuzzing', () => {
  it(`answers ${TOTAL_CASES}+ generated bodies on every route with a body with registry codes, never 5xx`, async () => {
    const doc = (await (await fetch(`${server.url}/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Operation>>;
    };
    const routes: Route[] = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).flatMap(([method, op]) => {
        const schema = op.requestBody?.content['application/json'].schema;
        return schema ? [{ method: method.toUpperCase(), path, fields: fieldsOf(schema) }] : [];
      }),
    );
    expect(routes.length).toBeGreaterThanOrEqual(15);
    const perRoute = Math.ceil(TOTAL_CASES / routes.length);
    const cases = routes.flatMap((route, i) =>
      fc.sample(specArb(route), { numRuns: perRoute, seed: SEED + i }).map((spec) => ({ route, spec })),
    );

    canary.chat(100);
    const started = Date.now();
    const statuses = new Map<string, number>();
    const problems: string[] = [];
    let next = 0;
    let sentBytes = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const { route, spec } = cases[next++] as (typeof cases)[number];
          const body = bodyOf(spec);
          sentBytes += body.length;
          let res: Response;
          try {
            res = await fetch(server.url + fill(route.path), {
              method: route.method,
              headers: { 'content-type': 'application/json', authorization: `Bearer ${me.token}` },
              body: body,
            });
          } catch (e) {
            // Past the limit the server answers 413 and closes at once (it won't read the
            // rest); a client still writing the body may see the close before the answer.
            if (Buffer.byteLength(body) <= BODY_LIMIT || !closedWhileSending(e)) throw e;
            statuses.set('413 closed', (statuses.get('413 closed') ?? 0) + 1);
            continue;
          }
          const text = await res.text();
          const p = problem(res.status, text);
          const code =
            res.status < 300 ? String(res.status) : `${res.status} ${(/"code":"(\w+)"/.exec(text) ?? [])[1]}`;
          statuses.set(code, (statuses.get(code) ?? 0) + 1);
          if (p) problems.push(`${route.method} ${route.path} ${spec.kind}: ${p}: ${text.slice(0, 200)}`);
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const report = await canary.finish();
    const health = await fetch(`${server.url}/healthz`);

    console.log(
      `http fuzz: ${cases.length} requests over ${routes.length} routes (seed ${SEED}) in ${seconds.toFixed(1)} s ` +
        `(${Math.round(cases.length / seconds)}/s, ${(sentBytes / 2 ** 20).toFixed(0)} MiB sent); answers: ` +
        [...statuses.entries()]
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${k} x${n}`)
          .join(', '),
    );
    console.log(
      `http fuzz: canary ${report.sent} sent, ${report.acked} acked, ${report.delivered} delivered`,
    );
    expect(problems.slice(0, 20)).toEqual([]);
    expect(cases.length).toBeGreaterThanOrEqual(TOTAL_CASES);
    expect(health.status).toBe(200);
    expect(server.proc.exitCode).toBeNull();
    expect(report.acked).toBe(report.sent);
  }, 180_000);
  it('answers generated query strings and path parameters on every route with registry codes, never 5xx', async () => {
    const doc = (await (await fetch(`${server.url}/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Operation>>;
    };
    const value = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.integer().map(String),
      fc.double().map(String),
      fc.constantFrom(
        'Infinity',
        '-Infinity',
        '1e309',
        'NaN',
        '-0',
        '0x10',
        '1.5',
        '9007199254740993',
        '',
        '%',
        '[]',
      ),
    );
    const cases = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        // Deleting is left out: it would take the fuzzer's own group and devices away.
        .filter(([method]) => method !== 'delete')
        .flatMap(([method, op]) => {
          const names = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
          const query = fc.dictionary(fc.constantFrom(...names, 'other'), value);
          const param = fc.option(fc.string({ unit: 'binary', maxLength: 120 }), { freq: 2 });
          return fc.sample(fc.tuple(query, param), { numRuns: 60, seed: SEED }).map(([q, p]) => {
            const filled = p === null ? fill(path) : path.replace(/\{\w+\}/g, encodeURIComponent(p));
            const qs = Object.entries(q)
              .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
              .join('&');
            return { method: method.toUpperCase(), url: `${filled}?${qs}` };
          });
        }),
    );
    const problems: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const c = cases[next++] as (typeof cases)[number];
          const res = await fetch(server.url + c.url, {
            method: c.method,
            headers: { authorization: `Bearer ${me.token}` },
          });
          const text = await res.text();
          // The web app's files and /metrics answer text; only error answers are judged here.
          const p = res.status >= 400 ? problem(res.status, text) : null;
          if (p) problems.push(`${c.method} ${c.url}: ${p}: ${text.slice(0, 200)}`);
        }
      }),
    );
    console.log(`query fuzz: ${cases.length} requests (seed ${SEED})`);
    expect(problems.slice(0, 20)).toEqual([]);
    // The regression the fuzzing found: Ajv coerced these to an integer past `maximum`.
    for (const q of ['limit=Infinity', 'limit=1e309', 'since=Infinity']) {
      const path = q.startsWith('since') ? '/v1/sync' : '/v1/conversations';
      const r = await api(server.url, 'GET', `${path}?${q}`, undefined, me.token);
      expect({ q, status: r.status, body: r.body }).toMatchObject({
        q,
        status: 400,
        body: { code: 'invalid_field' },
      });
    }
  });
});
