/**
 * Blob store conformance: every adapter passes every test here, the directory one and the S3
 * one against a real S3-protocol server.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../../packages/server/src/blobs/blob-store.js';
import { createBlobStore } from '../../../packages/server/src/blobs/storage.js';
import { STORAGE_ADAPTERS, bytes, readAll, streamOf } from '../../helpers/blob-adapters.js';
import type { StorageEnv } from '../../helpers/blob-adapters.js';

/** Over 5 MiB, so that the S3 adapter stores it in two multipart parts. */
const BIG = 5 * 1024 * 1024 + 4321;

async function keysUnder(store: BlobStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of store.list(prefix)) keys.push(e.key);
  return keys.sort();
}

describe.each(STORAGE_ADAPTERS)('blob store conformance: $name', (adapter) => {
  let env: StorageEnv;
  let store: BlobStore;
  beforeAll(async () => {
    env = await adapter.open();
    store = createBlobStore(env.config);
  });
  afterAll(async () => {
    await store?.close?.();
    await env?.close();
  });

  it('round-trips a 5 MB stream', async () => {
    const data = bytes(BIG, 7);
    expect(await store.put('rt/big', streamOf(data), { contentType: 'image/jpeg' })).toEqual({ size: BIG });
    const read = await store.get('rt/big');
    expect(read).not.toBeNull();
    const { body, ...rest } = read!;
    expect(rest).toMatchObject({ size: BIG, start: 0, end: BIG - 1, contentType: 'image/jpeg' });
    expect((await readAll(body)).equals(data)).toBe(true);
    expect(await store.head('rt/big')).toEqual({ size: BIG, contentType: 'image/jpeg', etag: rest.etag });
  });

  it('stores a buffer and an empty blob', async () => {
    expect(
      await store.put('rt/small', Buffer.from('hello'), { contentType: 'text/plain; charset=UTF-8' }),
    ).toEqual({
      size: 5,
    });
    const small = await store.get('rt/small');
    expect(small?.contentType).toBe('text/plain; charset=utf-8');
    expect((await readAll(small!.body)).toString()).toBe('hello');

    expect(await store.put('rt/empty', Buffer.alloc(0), { contentType: 'application/x-empty' })).toEqual({
      size: 0,
    });
    const empty = await store.get('rt/empty');
    expect(empty).toMatchObject({ size: 0, start: 0, end: -1, contentType: 'application/x-empty' });
    expect((await readAll(empty!.body)).length).toBe(0);
    await expect(store.get('rt/empty', { start: 0 })).rejects.toMatchObject({
      code: 'range_not_satisfiable',
      status: 416,
    });
  });

  it('stores an unusable content type as plain bytes', async () => {
    await store.put('rt/odd-type', Buffer.from('x'), { contentType: 'text/html<script>' });
    expect((await store.head('rt/odd-type'))?.contentType).toBe('application/octet-stream');
  });

  it('reads ranges: first byte, middle, open end, end past the end', async () => {
    const data = bytes(1000, 3);
    await store.put('rg/a', data, { contentType: 'audio/ogg' });
    const read = async (start: number, end?: number) => {
      const r = await store.get('rg/a', end === undefined ? { start } : { start, end });
      expect(r).not.toBeNull();
      const { body, ...rest } = r!;
      return { ...rest, bytes: await readAll(body) };
    };

    const first = await read(0, 0);
    expect(first).toMatchObject({ start: 0, end: 0, size: 1000, contentType: 'audio/ogg' });
    expect(first.bytes.equals(data.subarray(0, 1))).toBe(true);

    const middle = await read(100, 199);
    expect(middle).toMatchObject({ start: 100, end: 199, size: 1000 });
    expect(middle.bytes.equals(data.subarray(100, 200))).toBe(true);

    const openEnd = await read(990);
    expect(openEnd).toMatchObject({ start: 990, end: 999, size: 1000 });
    expect(openEnd.bytes.equals(data.subarray(990))).toBe(true);

    const pastEnd = await read(995, 5000);
    expect(pastEnd).toMatchObject({ start: 995, end: 999, size: 1000 });
    expect(pastEnd.bytes.equals(data.subarray(995))).toBe(true);

    const last = await read(999);
    expect(last.bytes.equals(data.subarray(999))).toBe(true);
  });

  it('reads a range across the parts of a big blob', async () => {
    const data = bytes(BIG, 11);
    await store.put('rg/big', streamOf(data), { contentType: 'video/mp4' });
    const at = 5 * 1024 * 1024 - 10;
    const r = await store.get('rg/big', { start: at, end: at + 19 });
    expect(r).toMatchObject({ start: at, end: at + 19, size: BIG });
    expect((await readAll(r!.body)).equals(data.subarray(at, at + 20))).toBe(true);
  });

  it('refuses a range that starts at or past the end, and malformed ranges', async () => {
    await store.put('rg/b', bytes(10), { contentType: 'image/png' });
    await expect(store.get('rg/b', { start: 10 })).rejects.toMatchObject({
      name: 'ParleyError',
      code: 'range_not_satisfiable',
      status: 416,
    });
    await expect(store.get('rg/b', { start: 50, end: 60 })).rejects.toMatchObject({
      code: 'range_not_satisfiable',
    });
    await expect(store.get('rg/b', { start: 5, end: 4 })).rejects.toMatchObject({ code: 'invalid_field' });
    await expect(store.get('rg/b', { start: -1 })).rejects.toMatchObject({ code: 'invalid_field' });
    await expect(store.get('rg/b', { start: 0.5 })).rejects.toMatchObject({ code: 'invalid_field' });
  });

  it('answers null for an absent key', async () => {
    expect(await store.get('absent/x')).toBeNull();
    expect(await store.get('absent/x', { start: 3 })).toBeNull();
    expect(await store.head('absent/x')).toBeNull();
  });

  it('keeps an etag while the blob is unchanged and changes it on overwrite', async () => {
    await store.put('et/a', Buffer.from('first version'), { contentType: 'text/plain' });
    const h1 = await store.head('et/a');
    const g1 = await store.get('et/a');
    await readAll(g1!.body);
    expect(h1?.etag).toMatch(/^".+"$/);
    expect(g1?.etag).toBe(h1?.etag);
    expect((await store.head('et/a'))?.etag).toBe(h1?.etag);

    await store.put('et/a', streamOf(Buffer.from('second, longer version')), {
      contentType: 'text/markdown',
    });
    const h2 = await store.head('et/a');
    expect(h2?.etag).not.toBe(h1?.etag);
    expect(h2).toMatchObject({ size: 22, contentType: 'text/markdown' });
    expect((await readAll((await store.get('et/a'))!.body)).toString()).toBe('second, longer version');
  });

  it('keeps the previous blob when a put fails midway', async () => {
    await store.put('at/a', Buffer.from('whole'), { contentType: 'text/plain' });
    const failing = new Readable({
      read() {
        this.push(bytes(1000));
        this.destroy(new Error('client went away'));
      },
    });
    await expect(store.put('at/a', failing, { contentType: 'text/plain' })).rejects.toThrow();
    expect((await readAll((await store.get('at/a'))!.body)).toString()).toBe('whole');
    await expect(
      store.put(
        'at/new',
        new Readable({
          read() {
            this.destroy(new Error('gone'));
          },
        }),
        { contentType: 'text/plain' },
      ),
    ).rejects.toThrow();
    expect(await store.head('at/new')).toBeNull();
    expect(await keysUnder(store, 'at/')).toEqual(['at/a']);
  });

  it('deletes, and deleting an absent key is fine', async () => {
    await store.put('del/a', Buffer.from('bye'), { contentType: 'text/plain' });
    await store.delete('del/a');
    expect(await store.head('del/a')).toBeNull();
    expect(await store.get('del/a')).toBeNull();
    await store.delete('del/a');
    await store.delete('del/never');
    expect(await keysUnder(store, 'del/')).toEqual([]);
  });

  it('lists by prefix with size and modification time', async () => {
    const before = Date.now();
    for (const key of ['ls/a/1', 'ls/a/2.webp', 'ls/ab', 'ls/b/1', 'lsx']) {
      await store.put(key, Buffer.from(key), { contentType: 'text/plain' });
    }
    expect(await keysUnder(store, 'ls/a/')).toEqual(['ls/a/1', 'ls/a/2.webp']);
    expect(await keysUnder(store, 'ls/a')).toEqual(['ls/a/1', 'ls/a/2.webp', 'ls/ab']);
    expect(await keysUnder(store, 'ls/')).toEqual(['ls/a/1', 'ls/a/2.webp', 'ls/ab', 'ls/b/1']);
    expect(await keysUnder(store, 'ls')).toEqual(['ls/a/1', 'ls/a/2.webp', 'ls/ab', 'ls/b/1', 'lsx']);
    expect(await keysUnder(store, 'ls/a/2')).toEqual(['ls/a/2.webp']);
    expect(await keysUnder(store, 'nothing/')).toEqual([]);
    expect(await keysUnder(store, '')).toEqual(expect.arrayContaining(['ls/a/1', 'lsx', 'rt/big']));

    const entries = [];
    for await (const e of store.list('ls/b/')) entries.push(e);
    expect(entries).toEqual([{ key: 'ls/b/1', size: 6, modifiedAt: expect.any(Number) }]);
    // S3 keeps whole seconds.
    expect(entries[0]!.modifiedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 1000);
    expect(entries[0]!.modifiedAt).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('rejects bad keys and prefixes', async () => {
    const bad = [
      '',
      '/abs',
      'a//b',
      'a/',
      '../x',
      'a/../b',
      'a/..',
      '.hidden',
      'a/.x',
      'a b',
      'a\\b',
      'ü',
      'a?b',
      'x'.repeat(201),
    ];
    for (const key of bad) {
      await expect(
        store.put(key, Buffer.from('x'), { contentType: 'text/plain' }),
        key,
      ).rejects.toMatchObject({
        code: 'invalid_field',
      });
      await expect(store.get(key), key).rejects.toMatchObject({ code: 'invalid_field' });
      await expect(store.head(key), key).rejects.toMatchObject({ code: 'invalid_field' });
      await expect(store.delete(key), key).rejects.toMatchObject({ code: 'invalid_field' });
    }
    for (const prefix of ['../', '/', 'a//', '.meta/', 'a b']) {
      await expect(keysUnder(store, prefix), prefix).rejects.toMatchObject({ code: 'invalid_field' });
    }
    const longest = 'k/' + 'x'.repeat(198);
    await store.put(longest, Buffer.from('ok'), { contentType: 'text/plain' });
    expect((await store.head(longest))?.size).toBe(2);
  });
});
