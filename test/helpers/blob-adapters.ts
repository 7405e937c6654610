/**
 * The blob storage adapters every blob test runs over: a temporary directory, and a bucket of a
 * real S3-protocol server (s3rver) on localhost, keys under a prefix as a shared bucket would.
 */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { BlobStorageConfig } from '../../packages/server/src/blobs/storage.js';
import { startS3rver } from './s3rver.js';

export interface StorageEnv {
  config: BlobStorageConfig;
  close(): Promise<void>;
}

export interface StorageAdapter {
  name: string;
  open(): Promise<StorageEnv>;
}

export const STORAGE_ADAPTERS: StorageAdapter[] = [
  {
    name: 'fs',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'parley-blobs-'));
      return {
        config: { kind: 'fs', root: join(dir, 'blobs') },
        close: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 's3',
    async open() {
      const s3 = await startS3rver();
      return { config: { kind: 's3', ...s3.options('parley/') }, close: () => s3.close() };
    },
  },
];

/** `n` bytes that differ from one offset to the next (a deterministic pseudo-random sequence). */
export function bytes(n: number, seed = 1): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** `data` as a stream of 64 KiB chunks, as a request body arrives. */
export function streamOf(data: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536);
    })(),
  );
}

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
