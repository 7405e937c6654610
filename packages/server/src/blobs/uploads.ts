/**
 * Resumable uploads: a tus 1.0.0 server (`@tus/server`) whose finished uploads are blobs of the
 * matching blob store under `u/<id>`. The tus data stores are placed so that this holds:
 *
 * - directory: `@tus/file-store` writes the bytes in place at `<root>/u/<id>` (the file grows
 *   while the upload runs) and its upload record at `<root>/u/<id>.info`;
 * - S3: `@tus/s3-store` names objects after the bare upload id (`<id>`, `<id>.info`, and
 *   `<id>.part` for a trailing piece under 5 MiB between two PATCHes) and has no prefix option,
 *   so its client puts `<keyPrefix>u/` before every key (`prefixKeys`). The object `u/<id>`
 *   exists once the multipart upload is completed, that is when the upload finishes.
 *
 * Either way `list('u/')` shows every upload, finished or not, through its `.info` record, for
 * garbage collection with `removeUpload`. `u/<id>` is read only after `onUploadFinish`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FileStore } from '@tus/file-store';
import { S3Store } from '@tus/s3-store';
import { ERRORS, Server } from '@tus/server';
import type { DataStore, KvStore, ServerOptions, Upload } from '@tus/server';
import { ParleyError } from '@parley/protocol';
import type { BlobStore } from './blob-store.js';
import { normalizeContentType, uploadKey } from './blob-store.js';
import { FsBlobStore } from './fs-blob-store.js';
import { S3BlobStore, prefixKeys, s3ClientConfig } from './s3-blob-store.js';
import type { S3BlobStoreOptions } from './s3-blob-store.js';
import type { BlobStorageConfig } from './storage.js';

export const DEFAULT_UPLOAD_PATH = '/v1/uploads';
export const DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024;

/** Upload ids: 128 random bits, base64url. */
const UPLOAD_ID = /^[A-Za-z0-9_-]{22}$/;

export function isUploadId(id: string): boolean {
  return UPLOAD_ID.test(id);
}

export interface UploadsOptions {
  /** The same configuration `createBlobStore` takes. */
  storage: BlobStorageConfig;
  /** URL path of the tus endpoint; default `/v1/uploads`. */
  path?: string;
  /** Largest upload, bytes; default 100 MiB. A larger `Upload-Length` is answered 413. */
  maxSize?: number;
  /**
   * Before an upload is created: authorize the request (throw `{ status_code, body }` to refuse)
   * and optionally replace its metadata. The content type (metadata `contentType`, or
   * `filetype` as tus-js-client sends it) is normalized after this hook.
   */
  onUploadCreate?: ServerOptions['onUploadCreate'];
  /** Once the last byte is stored, before the final PATCH is answered: record the upload. */
  onUploadFinish?: ServerOptions['onUploadFinish'];
  /** Every request naming an existing upload (HEAD, PATCH, DELETE): authorize it. */
  onIncomingRequest?: ServerOptions['onIncomingRequest'];
  /** Answer `Location` as a path rather than a full URL. */
  relativeLocation?: boolean;
  /** Build `Location` from `Forwarded` / `X-Forwarded-*` (behind a trusted proxy). */
  respectForwardedHeaders?: boolean;
  /** More response headers cross-origin clients may read (`Access-Control-Expose-Headers`). */
  exposedHeaders?: string[];
}

export interface Uploads {
  /** Hand it requests under the path: `server.handle(req, res)` or `server.handleWeb(request)`. */
  readonly server: Server;
  /** The store finished uploads are read from, as `uploadKey(id)`. */
  readonly blobs: BlobStore;
  /** Deletes an upload, finished or not: its bytes, its record and its tus state. */
  removeUpload(id: string): Promise<void>;
  close(): Promise<void>;
}

export function createUploads(opts: UploadsOptions): Uploads {
  const { storage } = opts;
  let blobs: BlobStore;
  let datastore: DataStore & { close?(): void };
  if (storage.kind === 'fs') {
    const files = new FsBlobStore(storage.root);
    blobs = files;
    datastore = new FsUploadStore(files);
  } else {
    blobs = new S3BlobStore(storage);
    datastore = new S3UploadStore(storage);
  }
  // No deferred length (the size is checked against maxSize when the upload is created) and no
  // tus expiration (stale uploads are collected through the blob store's list).
  datastore.extensions = ['creation', 'creation-with-upload', 'termination'];

  const { onUploadCreate, onUploadFinish } = opts;
  const server = new Server({
    path: opts.path ?? DEFAULT_UPLOAD_PATH,
    datastore,
    maxSize: opts.maxSize ?? DEFAULT_MAX_UPLOAD_BYTES,
    namingFunction: () => randomBytes(16).toString('base64url'),
    // Ids end up in file paths and object keys: anything but our own shape is not found.
    getFileIdFromRequest: (_req, lastPath) =>
      lastPath !== undefined && isUploadId(lastPath) ? lastPath : undefined,
    // A finished upload belongs to the server (a message may point at it): clients cannot delete it.
    disableTerminationForFinishedUploads: true,
    ...(opts.relativeLocation !== undefined && { relativeLocation: opts.relativeLocation }),
    ...(opts.respectForwardedHeaders !== undefined && {
      respectForwardedHeaders: opts.respectForwardedHeaders,
    }),
    ...(opts.onIncomingRequest && { onIncomingRequest: opts.onIncomingRequest }),
    ...(opts.exposedHeaders && { exposedHeaders: opts.exposedHeaders }),
    onUploadCreate: async (req, upload) => {
      const patch = onUploadCreate ? await onUploadCreate(req, upload) : {};
      const metadata = { ...(patch.metadata ?? upload.metadata) };
      metadata.contentType = normalizeContentType(metadata.contentType ?? metadata.filetype);
      return { metadata };
    },
    ...(onUploadFinish && { onUploadFinish }),
  });
  // tus-node-server would serve finished uploads on GET; reads go through the blob store
  // instead, so that one route authorizes them and sets their headers.
  server.handlers.GET.send = () => Promise.reject(ERRORS.FILE_NOT_FOUND);

  return {
    server,
    blobs,
    async removeUpload(id) {
      if (!isUploadId(id)) throw new ParleyError('invalid_field', `Invalid upload id: ${id}`);
      try {
        await datastore.remove(id);
      } catch (e) {
        // Already gone, or (S3) finished: its multipart upload no longer exists to abort.
        if (!isTusNotFound(e)) throw e;
      }
      const key = uploadKey(id);
      await Promise.all([blobs.delete(key), blobs.delete(`${key}.info`), blobs.delete(`${key}.part`)]);
    },
    async close() {
      datastore.close?.();
      await blobs.close?.();
    },
  };
}

function isTusNotFound(e: unknown): boolean {
  return e === ERRORS.FILE_NOT_FOUND || e === ERRORS.FILE_NO_LONGER_EXISTS;
}

/** `@tus/file-store` inside the blob directory, recording each upload's content type as a blob's. */
class FsUploadStore extends FileStore {
  constructor(private readonly blobs: FsBlobStore) {
    const directory = dirname(blobs.pathOf(uploadKey('x')));
    super({ directory, configstore: new UploadRecords(directory) });
  }

  override async create(upload: Upload): Promise<Upload> {
    // The type first: the bytes never exist without it.
    await this.blobs.writeMeta(uploadKey(upload.id), { contentType: upload.metadata?.contentType ?? '' });
    return super.create(upload);
  }

  override async remove(id: string): Promise<void> {
    await super.remove(id);
    await this.blobs.delete(uploadKey(id));
  }
}

/** `@tus/s3-store` writing under `<keyPrefix>u/` of the blob store's bucket. */
class S3UploadStore extends S3Store {
  constructor(opts: S3BlobStoreOptions) {
    super({ s3ClientConfig: { ...s3ClientConfig(opts), bucket: opts.bucket } });
    prefixKeys(this.client, `${opts.keyPrefix ?? ''}${uploadKey('')}`);
  }

  override async remove(id: string): Promise<void> {
    try {
      await super.remove(id);
    } finally {
      // Reading a finished upload caches its record, and the store forgets it only on success.
      await this.clearCache(id);
    }
  }

  close(): void {
    this.client.destroy();
  }
}

/**
 * The file store's upload records as `<id>.info` next to the bytes (its own record store would
 * name them `<id>.json`), as the S3 store names them; replaced by rename, never half-written.
 */
class UploadRecords implements KvStore<Upload> {
  constructor(private readonly directory: string) {}

  async get(id: string): Promise<Upload | undefined> {
    try {
      return JSON.parse(await readFile(this.path(id), 'utf8')) as Upload;
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT' || e instanceof SyntaxError) return undefined;
      throw e;
    }
  }

  async set(id: string, value: Upload): Promise<void> {
    const path = this.path(id);
    // Beside the blob store's own temporary files, out of every listing.
    const tmpDir = join(dirname(this.directory), '.tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${id}.${randomBytes(6).toString('base64url')}.info`);
    try {
      await writeFile(tmp, JSON.stringify(value), { flush: true });
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async delete(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.directory).catch(() => []);
    return names.filter((n) => n.endsWith('.info')).map((n) => n.slice(0, -'.info'.length));
  }

  private path(id: string): string {
    if (!isUploadId(id)) throw ERRORS.FILE_NOT_FOUND;
    return join(this.directory, `${id}.info`);
  }
}
