/**
 * Resumable uploads over both storage adapters: a plain node:http server hands requests to the
 * tus server, and the test speaks tus 1.0.0 over raw HTTP as a client would, including a PATCH
 * cut off mid-body and resumed from the offset HEAD reports.
 */
import { EventEmitter, once } from 'node:events';
import { createServer, request } from 'node:http';
import type { ClientRequest } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Upload } from '@tus/server';
import { uploadKey } from '../../../packages/server/src/blobs/blob-store.js';
import { DEFAULT_MAX_UPLOAD_BYTES, createUploads } from '../../../packages/server/src/blobs/uploads.js';
import type { Uploads } from '../../../packages/server/src/blobs/uploads.js';
import { STORAGE_ADAPTERS, bytes, readAll } from '../../helpers/blob-adapters.js';
import type { StorageEnv } from '../../helpers/blob-adapters.js';

const TUS = { 'Tus-Resumable': '1.0.0' };
const SIZE = 3 * 1024 * 1024;
const b64 = (s: string) => Buffer.from(s).toString('base64');
/** A request body fetch's types accept (a copy backed by a plain ArrayBuffer). */
const asBody = (b: Buffer) => new Uint8Array(b);

/** A PATCH declaring `declared` body bytes; the caller writes some and may drop the connection. */
function startPatch(url: string, offset: number, declared: number): ClientRequest {
  const req = request(url, {
    method: 'PATCH',
    headers: {
      ...TUS,
      'Upload-Offset': String(offset),
      'Content-Type': 'application/offset+octet-stream',
      'Content-Length': String(declared),
    },
  });
  req.on('error', () => undefined); // the drop the test makes
  return req;
}

describe.each(STORAGE_ADAPTERS)('tus uploads: $name', (adapter) => {
  let env: StorageEnv;
  let uploads: Uploads;
  let http: HttpServer;
  let base: string;
  const created: Upload[] = [];
  /** Emits the method of each request naming an upload as the tus server starts on it. */
  const incoming = new EventEmitter();
  const finished: Upload[] = [];

  beforeAll(async () => {
    env = await adapter.open();
    uploads = createUploads({
      storage: env.config,
      onUploadCreate: async (req, upload) => {
        if (req.headers.get('authorization') !== 'Bearer ok')
          throw { status_code: 401, body: 'unauthorized\n' };
        created.push(upload);
        return {};
      },
      onIncomingRequest: async (req) => {
        incoming.emit(req.method);
      },
      onUploadFinish: async (_req, upload) => {
        finished.push(upload);
        return {};
      },
    });
    http = createServer((req, res) => {
      uploads.server.handle(req, res).catch(() => res.destroy());
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}/v1/uploads`;
  });
  afterAll(async () => {
    await new Promise((resolve) => http?.close(resolve));
    await uploads?.close();
    await env?.close();
  });

  async function create(
    length: number,
    metadata = `contentType ${b64('image/jpeg')},filename ${b64('cat.jpg')}`,
  ) {
    return fetch(base, {
      method: 'POST',
      headers: {
        ...TUS,
        Authorization: 'Bearer ok',
        'Upload-Length': String(length),
        'Upload-Metadata': metadata,
      },
    });
  }

  it('advertises tus 1.0.0 with creation and termination', async () => {
    const res = await fetch(base, { method: 'OPTIONS' });
    expect(res.status).toBe(204);
    expect(res.headers.get('tus-version')).toBe('1.0.0');
    expect(res.headers.get('tus-extension')).toBe('creation,creation-with-upload,termination');
    expect(res.headers.get('tus-max-size')).toBe(String(DEFAULT_MAX_UPLOAD_BYTES));
  });

  it('resumes an interrupted upload and stores it byte-identical under u/<id>', async () => {
    const data = bytes(SIZE, 5);
    const finishedBefore = finished.length;

    const res = await create(SIZE);
    expect(res.status).toBe(201);
    const url = res.headers.get('location')!;
    const id = url.split('/').at(-1)!;
    expect(url).toBe(`${base}/${id}`);
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(created.at(-1)).toMatchObject({
      id,
      size: SIZE,
      metadata: { contentType: 'image/jpeg', filename: 'cat.jpg' },
    });

    // First PATCH: declares half of the file, sends 1 MiB of it, and the connection drops.
    const half = SIZE / 2;
    // Dropped once the server is reading it (it holds the upload's lock from then on).
    const seen = once(incoming, 'PATCH');
    const cut = startPatch(url, 0, half);
    cut.write(data.subarray(0, 1024 * 1024));
    await seen;
    cut.destroy();

    // HEAD waits for that lock, then tells where to resume: what the store kept of the cut PATCH.
    let head = await fetch(url, { method: 'HEAD', headers: TUS });
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-length')).toBe(String(SIZE));
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThanOrEqual(0);
    expect(offset).toBeLessThanOrEqual(1024 * 1024);
    expect(finished.length).toBe(finishedBefore);

    // A PATCH at a stale offset is refused without touching the upload.
    const stale = await fetch(url, {
      method: 'PATCH',
      headers: {
        ...TUS,
        'Upload-Offset': String(offset + 1),
        'Content-Type': 'application/offset+octet-stream',
      },
      body: asBody(data.subarray(offset + 1, offset + 2)),
    });
    expect(stale.status).toBe(409);

    // Second PATCH: everything from the offset the server reported.
    const rest = await fetch(url, {
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
      body: asBody(data.subarray(offset)),
    });
    expect(rest.status).toBe(204);
    expect(rest.headers.get('upload-offset')).toBe(String(SIZE));

    expect(finished.length).toBe(finishedBefore + 1);
    expect(finished.at(-1)).toMatchObject({ id, size: SIZE, offset: SIZE });

    head = await fetch(url, { method: 'HEAD', headers: TUS });
    expect(head.headers.get('upload-offset')).toBe(String(SIZE));

    const blob = await uploads.blobs.get(uploadKey(id));
    expect(blob).toMatchObject({ size: SIZE, start: 0, end: SIZE - 1, contentType: 'image/jpeg' });
    expect((await readAll(blob!.body)).equals(data)).toBe(true);
    const part = await uploads.blobs.get(uploadKey(id), { start: 1000, end: 1999 });
    expect((await readAll(part!.body)).equals(data.subarray(1000, 2000))).toBe(true);

    // Downloads are not the tus server's business.
    expect((await fetch(url)).status).toBe(404);

    // Finished uploads belong to the server: a client cannot terminate them.
    const del = await fetch(url, { method: 'DELETE', headers: TUS });
    expect(del.status).toBe(400);
    expect(await uploads.blobs.head(uploadKey(id))).toMatchObject({ size: SIZE });
    expect(finished.length).toBe(finishedBefore + 1);

    // The upload is listed (bytes and record) until it is removed, then gone everywhere.
    const listed = async () => {
      const keys: string[] = [];
      for await (const e of uploads.blobs.list(uploadKey(id))) keys.push(e.key);
      return keys.sort();
    };
    expect(await listed()).toEqual([uploadKey(id), `${uploadKey(id)}.info`]);
    await uploads.removeUpload(id);
    expect(await listed()).toEqual([]);
    expect(await uploads.blobs.get(uploadKey(id))).toBeNull();
    expect((await fetch(url, { method: 'HEAD', headers: TUS })).status).toBe(404);
    await uploads.removeUpload(id);
  });

  it('creates and finishes a small upload in one request', async () => {
    const data = bytes(2000, 9);
    const res = await fetch(base, {
      method: 'POST',
      headers: {
        ...TUS,
        Authorization: 'Bearer ok',
        'Upload-Length': String(data.length),
        'Upload-Metadata': `filetype ${b64('audio/ogg')}`,
        'Content-Type': 'application/offset+octet-stream',
      },
      body: asBody(data),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('upload-offset')).toBe('2000');
    const id = res.headers.get('location')!.split('/').at(-1)!;
    expect(finished.filter((u) => u.id === id)).toHaveLength(1);
    const blob = await uploads.blobs.get(uploadKey(id));
    expect(blob?.contentType).toBe('audio/ogg');
    expect((await readAll(blob!.body)).equals(data)).toBe(true);
  });

  it('refuses an upload over the maximum size with 413', async () => {
    const before = created.length;
    const res = await create(DEFAULT_MAX_UPLOAD_BYTES + 1);
    expect(res.status).toBe(413);
    expect(created.length).toBe(before);
  });

  it('lets the caller refuse to create an upload', async () => {
    const res = await fetch(base, { method: 'POST', headers: { ...TUS, 'Upload-Length': '10' } });
    expect(res.status).toBe(401);
  });

  it('terminates an unfinished upload, and removeUpload clears one', async () => {
    const a = (await create(1000)).headers.get('location')!;
    const del = await fetch(a, { method: 'DELETE', headers: TUS });
    expect(del.status).toBe(204);
    expect((await fetch(a, { method: 'HEAD', headers: TUS })).status).toBe(404);

    const b = (await create(1000)).headers.get('location')!;
    const id = b.split('/').at(-1)!;
    await fetch(b, {
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      body: asBody(bytes(400)),
    });
    await uploads.removeUpload(id);
    expect((await fetch(b, { method: 'HEAD', headers: TUS })).status).toBe(404);
    const left: string[] = [];
    for await (const e of uploads.blobs.list(uploadKey(id))) left.push(e.key);
    expect(left).toEqual([]);
  });

  it('answers 404 for ids it did not make', async () => {
    expect((await fetch(`${base}/..%2Fx`, { method: 'HEAD', headers: TUS })).status).toBe(404);
    expect((await fetch(`${base}/abc`, { method: 'HEAD', headers: TUS })).status).toBe(404);
    await expect(uploads.removeUpload('../x')).rejects.toMatchObject({ code: 'invalid_field' });
  });
});
