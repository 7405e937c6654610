/**
 * Blobs as objects of one S3 bucket (AWS or any S3-compatible service): key `u/abc` is the
 * object `<keyPrefix>u/abc`. S3 replaces an object atomically, stores its content type, and
 * answers ranges itself; streamed puts go through multipart uploads of 5 MiB parts.
 */
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ParleyError } from '@parley/protocol';
import type { BlobHead, BlobListEntry, BlobRange, BlobRead, BlobStore } from './blob-store.js';
import { checkKey, checkPrefix, checkRange, normalizeContentType, resolveRange } from './blob-store.js';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Default `us-east-1` (what most S3-compatible services expect). */
  region?: string;
  /** An S3-compatible service's URL (MinIO, R2, …); absent for AWS. */
  endpoint?: string;
  /** Absent: the SDK's usual chain (environment, shared files, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** `bucket` in the path rather than the host name; most S3-compatible services need it. */
  forcePathStyle?: boolean;
  /** Put before every key, e.g. `parley/`, to share a bucket. */
  keyPrefix?: string;
  /**
   * `WHEN_REQUIRED` for services that do not understand the SDK's default integrity checksums
   * (streamed bodies are then sent as `aws-chunked` with trailing checksums, which older
   * S3-compatible servers store as part of the object).
   */
  requestChecksumCalculation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
}

/** The SDK client configuration for these options, shared by the blob store and the tus store. */
export function s3ClientConfig(opts: S3BlobStoreOptions): S3ClientConfig {
  return {
    region: opts.region ?? 'us-east-1',
    forcePathStyle: opts.forcePathStyle ?? false,
    ...(opts.endpoint !== undefined && { endpoint: opts.endpoint }),
    ...(opts.credentials !== undefined && { credentials: opts.credentials }),
    ...(opts.requestChecksumCalculation !== undefined && {
      requestChecksumCalculation: opts.requestChecksumCalculation,
      responseChecksumValidation: opts.requestChecksumCalculation,
    }),
  };
}

/**
 * Makes every request of `client` name `prefix + key`: for code that builds its own keys (the
 * tus S3 store) and cannot be told a prefix. Covers `Key`, `Prefix` and the keys of a
 * multi-object delete; keys in responses keep the prefix.
 */
export function prefixKeys(client: S3Client, prefix: string): void {
  if (prefix === '') return;
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as {
        Key?: unknown;
        Prefix?: unknown;
        Delete?: { Objects?: { Key?: string }[] };
      };
      const mapped: Record<string, unknown> = { ...input };
      if (typeof input.Key === 'string') mapped.Key = prefix + input.Key;
      if (typeof input.Prefix === 'string') mapped.Prefix = prefix + input.Prefix;
      if (input.Delete?.Objects) {
        mapped.Delete = {
          ...input.Delete,
          Objects: input.Delete.Objects.map((o) => ({ ...o, Key: prefix + (o.Key ?? '') })),
        };
      }
      return next({ ...args, input: mapped });
    },
    { step: 'initialize', name: 'parleyKeyPrefix' },
  );
}

/** Parts of a streamed put; at most PART_SIZE × QUEUE_SIZE bytes are held in memory. */
const PART_SIZE = 5 * 1024 * 1024;
const QUEUE_SIZE = 2;

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(opts: S3BlobStoreOptions) {
    const prefix = opts.keyPrefix ?? '';
    checkPrefix(prefix);
    this.bucket = opts.bucket;
    this.prefix = prefix;
    this.client = new S3Client(s3ClientConfig(opts));
  }

  async put(key: string, body: Readable | Buffer, opts: { contentType: string }): Promise<{ size: number }> {
    const Key = this.objectKey(key);
    const ContentType = normalizeContentType(opts.contentType);
    if (Buffer.isBuffer(body)) {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body: body,
          ContentType,
          ContentLength: body.length,
        }),
      );
      return { size: body.length };
    }
    let size = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        done(null, chunk);
      },
    });
    const piped = pipeline(body, counted);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key, Body: counted, ContentType },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    try {
      await Promise.all([upload.done(), piped]);
    } catch (e) {
      counted.destroy();
      await piped.catch(() => undefined);
      throw e;
    }
    return { size };
  }

  async get(key: string, range?: BlobRange): Promise<BlobRead | null> {
    const Key = this.objectKey(key);
    if (range) checkRange(range);
    let res;
    try {
      res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key,
          ...(range && { Range: `bytes=${range.start}-${range.end ?? ''}` }),
        }),
      );
    } catch (e) {
      if (isNotFound(e)) return null;
      if (statusOf(e) === 416) {
        throw new ParleyError(
          'range_not_satisfiable',
          `Range starts at ${range?.start ?? 0}; past the blob's end`,
        );
      }
      throw e;
    }
    const body = res.Body as Readable;
    const length = res.ContentLength ?? 0;
    // A ranged answer says which bytes it holds and the whole size: "bytes 0-9/1234".
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.ContentRange ?? '');
    const got = m
      ? { start: Number(m[1]), end: Number(m[2]), size: Number(m[3]) }
      : { start: 0, end: length - 1, size: length };
    let want: { start: number; end: number };
    try {
      want = resolveRange(range, got.size);
      if (got.start > want.start || got.end < want.end) {
        throw new Error(`S3 answered bytes ${got.start}-${got.end} for ${want.start}-${want.end} of ${Key}`);
      }
    } catch (e) {
      body.destroy();
      throw e;
    }
    // HTTP lets a server answer more than the range asked (or ignore it); some S3-compatible
    // servers do, so only the asked bytes are passed on.
    const exact = got.start === want.start && got.end === want.end;
    return {
      body: exact ? body : slice(body, want.start - got.start, want.end - want.start + 1),
      size: got.size,
      start: want.start,
      end: want.end,
      contentType: normalizeContentType(res.ContentType),
      etag: res.ETag ?? '""',
    };
  }

  async head(key: string): Promise<BlobHead | null> {
    const Key = this.objectKey(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return {
        size: res.ContentLength ?? 0,
        contentType: normalizeContentType(res.ContentType),
        etag: res.ETag ?? '""',
      };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
  }

  async *list(prefix: string): AsyncIterable<BlobListEntry> {
    checkPrefix(prefix);
    const pages = paginateListObjectsV2(
      { client: this.client },
      { Bucket: this.bucket, Prefix: this.prefix + prefix },
    );
    for await (const page of pages) {
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        yield {
          key: o.Key.slice(this.prefix.length),
          size: o.Size ?? 0,
          modifiedAt: o.LastModified?.getTime() ?? 0,
        };
      }
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    checkKey(key);
    return this.prefix + key;
  }
}

/** `length` bytes of `src` after the first `skip`; the rest is read and dropped. */
function slice(src: Readable, skip: number, length: number): Readable {
  let toSkip = skip;
  let left = length;
  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      const from = Math.min(toSkip, chunk.length);
      toSkip -= from;
      const piece = chunk.subarray(from, from + left);
      left -= piece.length;
      done(null, piece.length > 0 ? piece : undefined);
    },
  });
  src.on('error', (e) => out.destroy(e));
  out.on('close', () => src.destroy());
  return src.pipe(out);
}

function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function isNotFound(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(e) === 404;
}
