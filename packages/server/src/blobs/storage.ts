/** Picks the blob store adapter a configuration names. */
import { FsBlobStore } from './fs-blob-store.js';
import { S3BlobStore } from './s3-blob-store.js';
import type { S3BlobStoreOptions } from './s3-blob-store.js';

/** Where blobs live: a directory (e.g. `<dataDir>/blobs`) or an S3 bucket. */
export type BlobStorageConfig = { kind: 'fs'; root: string } | ({ kind: 's3' } & S3BlobStoreOptions);

export function createBlobStore(config: BlobStorageConfig): FsBlobStore | S3BlobStore {
  return config.kind === 'fs' ? new FsBlobStore(config.root) : new S3BlobStore(config);
}
