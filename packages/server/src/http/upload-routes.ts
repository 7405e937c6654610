/**
 * Uploads and files (docs/protocol.md, "Attachments"): the tus endpoint at `/v1/uploads`
 * handed to `@tus/server` after Fastify authenticated the request, the uploader's view of an
 * upload, and downloads with ranges and validators, streamed from the blob store.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ParleyError } from '@parley/protocol';
import type { AuthContext, AuthService } from '../auth/auth-service.js';
import { thumbnailKey } from '../attachments/attachment-service.js';
import type { AttachmentService } from '../attachments/attachment-service.js';
import type { BlobRange } from '../blobs/blob-store.js';
import type { Logger } from '../logger.js';

export interface UploadRouteDeps {
  auth: AuthService;
  attachments: AttachmentService;
  log: Logger;
}

const ID_PARAMS = {
  type: 'object',
  properties: { id: { type: 'string', maxLength: 64 } },
  required: ['id'],
} as const;

/** Headers of every file answer (docs/protocol.md): never rendered, never sniffed. */
function fileHeaders(reply: FastifyReply, type: string, name: string, etag: string): void {
  void reply.headers({
    'content-type': type,
    'content-disposition': `attachment; filename*=UTF-8''${encodeRfc5987(name)}`,
    'x-content-type-options': 'nosniff',
    'content-security-policy': "sandbox; default-src 'none'",
    'cache-control': 'private, max-age=31536000, immutable',
    'accept-ranges': 'bytes',
    etag,
  });
}

function encodeRfc5987(s: string): string {
  return encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * One `bytes=` range of a `Range` header, resolved against `size` where it counts from the
 * end; undefined to serve the whole file (no header, several ranges, or one that is not valid
 * syntax, which RFC 9110 says to ignore).
 */
export function parseRange(header: string | undefined, size: number): BlobRange | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (!m) return undefined;
  const [, from = '', to = ''] = m;
  if (from === '' && to === '') return undefined;
  if (from === '') {
    const n = Number(to);
    if (n === 0) throw new ParleyError('range_not_satisfiable');
    return { start: Math.max(0, size - n) };
  }
  const start = Number(from);
  if (to === '') return { start };
  const end = Number(to);
  return end < start ? undefined : { start, end };
}

/** `If-None-Match` names this ETag (or `*`). */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v === etag || v === `W/${etag}`;
  });
}

export function registerUploadRoutes(app: FastifyInstance, d: UploadRouteDeps): void {
  // As every authenticated route: a preHandler (also what marks a route secured in OpenAPI).
  const authed = {
    preHandler: async (req: FastifyRequest) => {
      if (req.method === 'OPTIONS') return; // tus's CORS preflight carries no token
      const h = req.headers.authorization;
      const token = h?.startsWith('Bearer ') ? h.slice(7).trim() : null;
      req.auth = token ? await d.auth.authenticate(token) : null;
      if (!req.auth) throw new ParleyError('unauthorized');
    },
  };
  const me = (req: FastifyRequest): AuthContext => {
    if (!req.auth) throw new ParleyError('unauthorized');
    return req.auth;
  };

  // tus PATCH bodies (and POST with creation-with-upload) go to tus untouched.
  app.addContentTypeParser('application/offset+octet-stream', (_req, _payload, done) => done(null));

  const tus = async (req: FastifyRequest<{ Params: { id?: string } }>, reply: FastifyReply) => {
    if (req.method !== 'OPTIONS') {
      const { userId } = me(req);
      // What tus would refuse in plain text, refused here with registry codes.
      if (req.headers['tus-resumable'] !== '1.0.0') {
        throw new ParleyError('invalid_field', 'Tus-Resumable: 1.0.0 is required');
      }
      if (req.method === 'POST') {
        const raw = req.headers['upload-length'];
        const length = Number(raw);
        if (typeof raw !== 'string' || !/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(length)) {
          throw new ParleyError('invalid_field', 'Upload-Length must be the size in bytes');
        }
        await d.attachments.checkCreate(userId, length);
      } else if (req.params.id !== undefined) {
        await d.attachments.checkOwner(userId, req.params.id);
      }
      d.attachments.setUploader(req.raw, userId);
    }
    const { server } = await d.attachments.uploads();
    reply.hijack();
    // Not awaited: a client that disconnects mid-PATCH may leave it unsettled.
    server
      .handle(req.raw, reply.raw)
      .then(() => {
        // Only unfinished uploads can be terminated; the sweep would forget them too, later.
        if (req.method === 'DELETE' && reply.raw.statusCode === 204 && req.params.id !== undefined) {
          d.attachments.terminated(req.params.id);
        }
      })
      .catch((err: unknown) => {
        d.log.error({ err }, 'upload request failed');
        if (!reply.raw.headersSent) reply.raw.writeHead(500).end();
        else reply.raw.destroy();
      });
  };
  // Creating an upload is documented (its body is tus's, not JSON); the rest of the tus
  // protocol (docs/protocol.md §3.8) stays out of the OpenAPI document.
  app.route({ method: 'POST', url: '/v1/uploads', ...authed, handler: tus });
  app.route({ method: 'OPTIONS', url: '/v1/uploads', schema: { hide: true }, handler: tus });
  app.route({
    method: ['HEAD', 'PATCH', 'DELETE', 'OPTIONS'],
    url: '/v1/uploads/:id',
    ...authed,
    schema: { hide: true, params: ID_PARAMS },
    handler: tus,
  });

  app.get<{ Params: { id: string } }>(
    '/v1/uploads/:id',
    { ...authed, exposeHeadRoute: false, schema: { params: ID_PARAMS } },
    async (req) => d.attachments.ownUpload(me(req).userId, req.params.id),
  );

  const download =
    (thumbnail: boolean) => async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const { attachment: a, blobs } = await d.attachments.readable(me(req).userId, req.params.id);
      if (thumbnail && !a.thumbnail) throw new ParleyError('not_found');
      const { uploadKey } = await import('../blobs/blob-store.js');
      const key = thumbnail ? thumbnailKey(a.id) : uploadKey(a.id);
      const head = await blobs.head(key);
      if (!head) throw new ParleyError('not_found');
      const type = thumbnail ? 'image/webp' : a.kind === 'file' ? 'application/octet-stream' : a.mime;
      const name = thumbnail ? `${a.name}.webp` : a.name;
      fileHeaders(reply, type, name, head.etag);
      if (matches(req.headers['if-none-match'], head.etag)) return reply.status(304).send();
      const range = parseRange(req.headers.range, head.size);
      let read;
      try {
        read = await blobs.get(key, range);
      } catch (e) {
        if (e instanceof ParleyError && e.code === 'range_not_satisfiable') {
          void reply.header('content-range', `bytes */${head.size}`);
        }
        throw e;
      }
      if (!read) throw new ParleyError('not_found');
      void reply.header('content-length', String(read.end - read.start + 1));
      if (range) {
        void reply.status(206).header('content-range', `bytes ${read.start}-${read.end}/${read.size}`);
      }
      return reply.send(read.body);
    };
  app.get<{ Params: { id: string } }>(
    '/v1/files/:id',
    { ...authed, schema: { params: ID_PARAMS } },
    download(false),
  );
  app.get<{ Params: { id: string } }>(
    '/v1/files/:id/thumbnail',
    { ...authed, schema: { params: ID_PARAMS } },
    download(true),
  );
}
