/**
 * The SDK's upload and file calls against the real server: what the server made of the bytes,
 * ranges, ETags, and what others may not read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyError } from '@parley/client';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { newUser } from '../helpers/sdk.js';

let server: ServerHandle;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
  server?.cleanup();
});

describe('SDK attachments against the server', () => {
  it('uploads in pieces, then reads the file whole, by range and by ETag', async () => {
    const ana = await newUser(server.url);
    const data = new Uint8Array(300_000).map((_, i) => (i * 31) % 251);
    const sent: number[] = [];
    const a = await ana.http.upload(new Blob([data]), {
      name: 'données.bin',
      chunkSize: 128 * 1024,
      onProgress: (n) => sent.push(n),
    });
    expect(a).toMatchObject({
      kind: 'file',
      name: 'données.bin',
      size: 300_000,
      mime: 'application/octet-stream',
    });
    expect(sent).toEqual([0, 131_072, 262_144, 300_000]);
    expect(await ana.http.getUpload(a.id)).toEqual(a);

    const whole = await ana.http.file(a.id);
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(data);
    const etag = whole.headers.get('etag') ?? '';
    expect(etag).not.toBe('');
    const part = await ana.http.file(a.id, { range: { start: 10, end: 19 } });
    expect(part.status).toBe(206);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(data.slice(10, 20));
    expect((await ana.http.file(a.id, { ifNoneMatch: etag })).status).toBe(304);
    await expect(ana.http.file(a.id, { range: { start: 300_000 } })).rejects.toMatchObject({
      code: 'range_not_satisfiable',
    });

    // Someone else cannot read it before it is in a message they see.
    const bob = await newUser(server.url);
    const err = await bob.http.file(a.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).code).toBe('not_found');
  });
});
