/**
 * A real S3-protocol server for tests: s3rver on a random localhost port, storing in a
 * temporary directory, with one bucket.
 *
 * s3rver answers neither ListParts nor AbortMultipartUpload, which @tus/s3-store calls (it
 * resumes from the list of parts stored so far). This helper answers those two requests itself,
 * in front of s3rver's router, from the directory where s3rver keeps the parts of open
 * multipart uploads; everything else is s3rver's own.
 */
import { mkdtempSync } from 'node:fs';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import type { S3BlobStoreOptions } from '../../packages/server/src/blobs/s3-blob-store.js';

export interface S3Endpoint {
  bucket: string;
  endpoint: string;
  /** Blob store options for this server, keys under `keyPrefix`. */
  options(keyPrefix?: string): S3BlobStoreOptions;
  close(): Promise<void>;
}

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface S3rverInternals {
  middleware: KoaMiddleware[];
  store: { getResourcePath(bucket: string, key: undefined, resource: string): string };
}

export async function startS3rver(bucket = 'parley-test'): Promise<S3Endpoint> {
  const directory = mkdtempSync(join(tmpdir(), 'parley-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const internals = server as unknown as S3rverInternals;
  internals.middleware.unshift(multipartListing(internals));
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    bucket,
    endpoint,
    options: (keyPrefix = '') => ({
      bucket,
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      // s3rver's default account.
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      // s3rver predates the aws-chunked bodies the SDK sends by default.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      keyPrefix,
    }),
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

const xmlEscape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** ListParts (GET ?uploadId) and AbortMultipartUpload (DELETE ?uploadId) over s3rver's upload directories. */
function multipartListing(s3rver: S3rverInternals): KoaMiddleware {
  return async (ctx, next) => {
    const uploadId = ctx.query.uploadId;
    const listing = ctx.method === 'GET' && ctx.query.partNumber === undefined;
    if (typeof uploadId !== 'string' || !(listing || ctx.method === 'DELETE')) return next();
    const [, bucket = '', ...keyParts] = ctx.path.split('/');
    const key = decodeURIComponent(keyParts.join('/'));
    const dir = join(s3rver.store.getResourcePath(bucket, undefined, 'uploads'), uploadId);
    const exists = await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    ctx.type = 'application/xml';
    if (!exists || !/^[0-9a-f]+$/.test(uploadId)) {
      ctx.status = 404;
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code>' +
        `<Message>The specified upload does not exist.</Message><UploadId>${xmlEscape(uploadId)}</UploadId></Error>`;
      return;
    }
    if (ctx.method === 'DELETE') {
      await rm(dir, { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = '';
      return;
    }
    const marker = Number(ctx.query['part-number-marker'] ?? 0);
    const numbers = (await readdir(dir))
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .filter((n) => n > marker)
      .sort((a, b) => a - b);
    const parts = await Promise.all(
      numbers.map(async (n) => {
        // s3rver writes a part's .md5 once the part is whole: a part still arriving is not listed.
        const md5 = await readFile(join(dir, `${n}.md5`), 'utf8').catch(() => null);
        if (md5 === null) return '';
        const st = await stat(join(dir, String(n)));
        return (
          `<Part><PartNumber>${n}</PartNumber><LastModified>${st.mtime.toISOString()}</LastModified>` +
          `<ETag>"${md5.trim()}"</ETag><Size>${st.size}</Size></Part>`
        );
      }),
    );
    ctx.status = 200;
    ctx.body =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${uploadId}</UploadId>` +
      `<PartNumberMarker>${marker}</PartNumberMarker><NextPartNumberMarker>${numbers.at(-1) ?? marker}</NextPartNumberMarker>` +
      `<MaxParts>10000</MaxParts><IsTruncated>false</IsTruncated>${parts.join('')}</ListPartsResult>`;
  };
}
