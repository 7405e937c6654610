/**
 * Serves the built web app (packages/web/dist) at `/`, on the same origin as the API, so
 * the app needs no CORS and its token never leaves the origin.
 *
 * The files are few and small (about 150 KB), so they are read, hashed and compressed once
 * at start-up and served from memory: hashed `/assets/*` as immutable, everything else
 * revalidated by ETag (a new build shows on the next load). Every response carries a strict
 * Content-Security-Policy: scripts and styles only from this origin, no inline code, so
 * text that slipped into the page could still not run.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { landingPage } from './landing.js';

/** Where `npm run build` puts the web app: packages/web/dist, next to this package. */
export const WEB_DIST_DIR = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

/**
 * The app's Content-Security-Policy. `connect-src` allows WebSockets to any host because
 * `'self'` does not match ws: and wss: in every browser; scripts cannot be injected to use it.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self' ws: wss:",
  "manifest-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(self), geolocation=()',
};

/**
 * Headers on every `/v1` answer, errors included: answers carry tokens and messages, so no
 * cache may keep them, and no browser may read them as anything but their declared type.
 */
const API_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

/** Set `API_HEADERS` when the request is under `/v1`. */
export function setApiHeaders(req: FastifyRequest, reply: FastifyReply): void {
  if (!/^\/v1(?:[/?]|$)/.test(req.url)) return;
  // A file download says how long it may be kept (immutable bytes); everything else, never.
  const keep = reply.statusCode < 400 && reply.hasHeader('cache-control');
  void reply.headers(keep ? { 'x-content-type-options': 'nosniff' } : API_HEADERS);
}

/**
 * Add `API_HEADERS` to every answer under `/v1`. Register before any route. Errors met while
 * routing skip hooks: their handler calls `setApiHeaders` itself.
 */
export function registerApiHeaders(app: FastifyInstance): void {
  app.addHook('onSend', (req, reply, payload, done) => {
    setApiHeaders(req, reply);
    done(null, payload);
  });
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Only text compresses; PNGs and fonts are compressed already. */
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.webmanifest', '.svg', '.txt']);

interface StaticFile {
  body: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}

function load(distDir: string, path: string): StaticFile {
  const body = readFileSync(path);
  const ext = extname(path);
  const rel = relative(distDir, path).split(sep).join('/');
  const file: StaticFile = {
    body,
    type: TYPES[ext] ?? 'application/octet-stream',
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    // Vite puts a content hash in every name under assets/: those never change.
    cacheControl: rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
  if (COMPRESSIBLE.has(ext) && body.length > 512) {
    file.gzip = gzipSync(body, { level: 9 });
    file.br = brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } });
  }
  return file;
}

function send(file: StaticFile, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  void reply.headers(SECURITY_HEADERS);
  void reply.header('content-type', file.type);
  void reply.header('cache-control', file.cacheControl);
  void reply.header('etag', file.etag);
  void reply.header('vary', 'accept-encoding');
  if (req.headers['if-none-match'] === file.etag) return reply.status(304).send();
  const accept = String(req.headers['accept-encoding'] ?? '');
  if (file.br !== undefined && /\bbr\b/.test(accept)) {
    void reply.header('content-encoding', 'br');
    return reply.send(file.br);
  }
  if (file.gzip !== undefined && /\bgzip\b/.test(accept)) {
    void reply.header('content-encoding', 'gzip');
    return reply.send(file.gzip);
  }
  return reply.send(file.body);
}

/**
 * Serve the web app built in `distDir` at `/` (index.html) and each of its files at its
 * path. When the app is not built, `/` shows the landing page instead.
 */
export function registerWebApp(app: FastifyInstance, distDir: string): void {
  const index = join(distDir, 'index.html');
  if (!existsSync(index)) {
    app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(landingPage()));
    return;
  }
  for (const path of listFiles(distDir)) {
    const rel = relative(distDir, path).split(sep).join('/');
    // Only plain names become routes (no route syntax such as ':' or '*' from a stray file).
    if (!/^[\w.\-/]+$/.test(rel) || rel.endsWith('.map')) continue;
    const file = load(distDir, path);
    const handler = async (req: FastifyRequest, reply: FastifyReply) => send(file, req, reply);
    app.get(`/${rel}`, handler);
    if (rel === 'index.html') app.get('/', handler);
  }
}
