/**
 * The blob store port: immutable bytes (attachments, thumbnails) addressed by string keys. Two
 * adapters: a directory (`fs-blob-store.ts`) and an S3 bucket (`s3-blob-store.ts`); resumable
 * uploads (`uploads.ts`) land in the same store under `u/<uploadId>`. docs/media.md describes
 * the key layout.
 */
import type { Readable } from 'node:stream';
import { ParleyError } from '@parley/protocol';

/** Bytes `start` to `end` of a blob, both inclusive; no `end` reads to the last byte. */
export interface BlobRange {
  start: number;
  end?: number;
}

export interface BlobHead {
  /** Size of the whole blob, bytes. */
  size: number;
  contentType: string;
  /** Quoted strong validator: the same while the blob is unchanged, another after an overwrite. */
  etag: string;
}

export interface BlobRead extends BlobHead {
  /** The bytes `start`..`end`; the caller must consume or destroy it. */
  body: Readable;
  /** First byte in `body`. */
  start: number;
  /** Last byte in `body`, inclusive (`start - 1` for an empty blob). */
  end: number;
}

export interface BlobListEntry {
  key: string;
  size: number;
  /** When the blob was last written, ms since the epoch. */
  modifiedAt: number;
}

export interface BlobStore {
  /**
   * Stores `body` under `key`, replacing what was there; a reader sees the old blob or the new
   * one, never a part. Streams are written as they arrive, never held whole in memory.
   */
  put(key: string, body: Readable | Buffer, opts: { contentType: string }): Promise<{ size: number }>;
  /**
   * The blob, or the asked range of it; null when there is no such key. A range that starts at
   * or past the end throws `range_not_satisfiable`; an `end` past the end reads to the last byte.
   */
  get(key: string, range?: BlobRange): Promise<BlobRead | null>;
  head(key: string): Promise<BlobHead | null>;
  /** Removes the blob; an absent key is not an error. */
  delete(key: string): Promise<void>;
  /** Every blob whose key starts with `prefix`, in no particular order (for garbage collection). */
  list(prefix: string): AsyncIterable<BlobListEntry>;
  /** Releases connections. */
  close?(): Promise<void>;
}

/** Where the bytes of upload `id` live, in every adapter. */
export function uploadKey(id: string): string {
  return `u/${id}`;
}

export const MAX_KEY_LENGTH = 200;
const KEY_CHARS = /^[A-Za-z0-9/_.-]*$/;

/**
 * Throws `invalid_field` unless `key` is 1-200 characters of `A-Z a-z 0-9 / _ . -` made of
 * non-empty segments that do not start with a dot (so no `.`, `..` or hidden names: the
 * directory adapter keeps its own files under dot-names).
 */
export function checkKey(key: string): void {
  if (key.length === 0 || !validPath(key)) throw new ParleyError('invalid_field', `Invalid blob key: ${key}`);
}

/** A `list` prefix: a key, a key's start, or empty for everything. */
export function checkPrefix(prefix: string): void {
  if (prefix === '') return;
  // A prefix may end inside a segment or just after a slash ('u/').
  const body = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (body.length === 0 || !validPath(body)) {
    throw new ParleyError('invalid_field', `Invalid blob prefix: ${prefix}`);
  }
}

function validPath(path: string): boolean {
  if (path.length > MAX_KEY_LENGTH || !KEY_CHARS.test(path)) return false;
  return path.split('/').every((segment) => segment.length > 0 && !segment.startsWith('.'));
}

/**
 * The bytes a range covers in a blob of `size` bytes (HTTP semantics, RFC 9110 §14.1.2): an end
 * past the last byte is cut to it; a start at or past the end is `range_not_satisfiable`.
 * Malformed ranges (negative, fractional, end before start) are `invalid_field`.
 */
export function resolveRange(range: BlobRange | undefined, size: number): { start: number; end: number } {
  if (range === undefined) return { start: 0, end: size - 1 };
  checkRange(range);
  if (range.start >= size) {
    throw new ParleyError(
      'range_not_satisfiable',
      `Range starts at ${range.start}; the blob has ${size} bytes`,
    );
  }
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}

export function checkRange(range: BlobRange): void {
  const { start, end } = range;
  if (
    !Number.isSafeInteger(start) ||
    start < 0 ||
    (end !== undefined && (!Number.isSafeInteger(end) || end < start))
  ) {
    throw new ParleyError('invalid_field', `Invalid range: ${start}-${end ?? ''}`);
  }
}

const TOKEN = '[a-z0-9!#$&^_.+-]+';
const CONTENT_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(; ?${TOKEN}=${TOKEN})*$`);

/**
 * A content type as stored: `type/subtype` with optional `; name=value` parameters, lower case,
 * at most 100 characters; anything else becomes `application/octet-stream`.
 */
export function normalizeContentType(value: string | null | undefined): string {
  const v = (value ?? '').trim().toLowerCase();
  return v.length <= 100 && CONTENT_TYPE.test(v) ? v : 'application/octet-stream';
}
