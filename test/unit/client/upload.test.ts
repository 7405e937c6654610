/**
 * `ParleyHttp.upload` and `file` against a real tus 1.0.0 server (`@tus/server` over the
 * directory blob store, as the server uses it) behind a node:http server that checks the bearer
 * header, answers `Parley-Upload` on the final PATCH, and can cut a PATCH off mid-body.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { uploadKey } from '../../../packages/server/src/blobs/blob-store.js';
import { createUploads } from '../../../packages/server/src/blobs/uploads.js';
import type { Uploads } from '../../../packages/server/src/blobs/uploads.js';
import { ParleyError, ParleyHttp } from '../../../packages/client/src/index.js';
import type { Attachment } from '../../../packages/client/src/index.js';
import { STORAGE_ADAPTERS, bytes, readAll } from '../../helpers/blob-adapters.js';
import type { StorageEnv } from '../../helpers/blob-adapters.js';

const TOKEN = 'tok-1';
let env: StorageEnv;
let uploads: Uploads;
let server: Server;
let baseUrl: string;
/** Methods of the requests the upload endpoint received, in order. */
let seen: string[];
/** Cut the connection of the PATCH with this number (1-based) after its first body bytes. */
let cutPatch: number | undefined;
let patches: number;
/** Finished uploads, as the server would describe them. */
const finished = new Map<string, Attachment>();
/** Send no `Parley-Upload` header (the client then asks `GET /v1/uploads/:id`). */
let noHeader = false;

function describeUpload(id: string, size: number, name: string): Attachment {
  return { id, kind: 'file', name, size, mime: 'application/octet-stream' };
}

beforeAll(async () => {
  const fs = STORAGE_ADAPTERS.find((a) => a.name === 'fs');
  if (fs === undefined) throw new Error('no fs adapter');
  env = await fs.open();
  uploads = createUploads({
    storage: env.config,
    relativeLocation: true,
    onUploadFinish: async (_req, upload) => {
      const name = Buffer.from(upload.metadata?.filename ?? '', 'utf8').toString();
      const a = describeUpload(upload.id, upload.size ?? 0, name);
      finished.set(upload.id, a);
      return noHeader ? {} : { headers: { 'Parley-Upload': JSON.stringify(a) } };
    },
  });
  server = createServer((req, res) => {
    const url = req.url ?? '';
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'unauthorized', message: 'No', retryable: false }));
      return;
    }
    const file = /^\/v1\/files\/([\w-]+)$/.exec(url);
    if (file !== null && req.method === 'GET') {
      void uploads.blobs.get(uploadKey(file[1] ?? '')).then(async (blob) => {
        if (blob === null) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ code: 'not_found', message: 'Not found', retryable: false }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(await readAll(blob.body));
      });
      return;
    }
    const meta = /^\/v1\/uploads\/([\w-]+)$/.exec(url);
    if (meta !== null && req.method === 'GET') {
      const a = finished.get(meta[1] ?? '');
      res.writeHead(a ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a ?? { code: 'not_found', message: 'Not found', retryable: false }));
      return;
    }
    seen.push(req.method ?? '');
    if (req.method === 'PATCH' && ++patches === cutPatch) {
      req.once('data', () => setImmediate(() => req.socket.destroy()));
    }
    uploads.server.handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await uploads?.close();
  await env?.close();
});

beforeEach(() => {
  seen = [];
  patches = 0;
  cutPatch = undefined;
  noHeader = false;
});

const http = () => new ParleyHttp({ baseUrl, token: TOKEN });

describe('ParleyHttp.upload', () => {
  it('uploads in pieces, reports progress and answers the Parley-Upload attachment', async () => {
    const data = bytes(300_000, 7);
    const progress: [number, number][] = [];
    const a = await http().upload(new Blob([new Uint8Array(data)]), {
      name: 'report é.pdf',
      type: 'application/pdf',
      chunkSize: 128 * 1024,
      onProgress: (sent, total) => progress.push([sent, total]),
    });
    expect(a.name).toBe('report é.pdf');
    expect(a.size).toBe(300_000);
    expect(seen).toEqual(['POST', 'PATCH', 'PATCH', 'PATCH']);
    expect(progress).toEqual([
      [0, 300_000],
      [131_072, 300_000],
      [262_144, 300_000],
      [300_000, 300_000],
    ]);
    const res = await http().file(a.id);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
  });

  it('resumes from the offset HEAD reports after a PATCH is cut off', async () => {
    const data = bytes(2_000_000, 3);
    cutPatch = 1;
    const a = await http().upload(new Uint8Array(data), { name: 'big.bin', chunkSize: 4_000_000 });
    expect(seen.slice(0, 3)).toEqual(['POST', 'PATCH', 'HEAD']);
    expect(seen.filter((m) => m === 'PATCH').length).toBeGreaterThanOrEqual(2);
    const res = await http().file(a.id);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
  });

  it('asks GET /v1/uploads/:id when the final answer has no Parley-Upload header', async () => {
    noHeader = true;
    const a = await http().upload(new Uint8Array([1, 2, 3]), { name: 'x.txt' });
    expect(a).toMatchObject({ name: 'x.txt', size: 3 });
  });

  it('deletes the upload on the server when aborted and rejects with the reason', async () => {
    const ctrl = new AbortController();
    const reason = new Error('cancelled by the user');
    const p = http().upload(new Uint8Array(bytes(500_000)), {
      name: 'a.bin',
      chunkSize: 100_000,
      signal: ctrl.signal,
      onProgress: (sent) => {
        if (sent >= 200_000) ctrl.abort(reason);
      },
    });
    await expect(p).rejects.toBe(reason);
    await expect.poll(() => seen.includes('DELETE')).toBe(true);
  });

  it('rejects with unauthorized without the right token, before sending anything', async () => {
    await expect(
      new ParleyHttp({ baseUrl }).upload(new Uint8Array([1]), { name: 'a' }),
    ).rejects.toMatchObject({
      code: 'unauthorized',
    });
    expect(seen).toEqual([]);
    const err = await new ParleyHttp({ baseUrl, token: 'wrong' })
      .upload(new Uint8Array([1]), { name: 'a' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).code).toBe('unauthorized');
  });

  it('file() turns an unknown id into not_found', async () => {
    await expect(http().file('nope')).rejects.toMatchObject({ code: 'not_found' });
  });
});
