/**
 * Blobs as files under one directory: key `u/abc` is the file `<root>/u/abc`. A put writes a
 * temporary file under `<root>/.tmp` and renames it into place, so a reader opens the old file
 * or the new one, never half of one. The content type lives in a sidecar,
 * `<root>/.meta/<key>.json`; keys never have dot-segments, so these directories never meet a key.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ParleyError } from '@parley/protocol';
import type { BlobHead, BlobListEntry, BlobRange, BlobRead, BlobStore } from './blob-store.js';
import { checkKey, checkPrefix, checkRange, normalizeContentType, resolveRange } from './blob-store.js';

const DEFAULT_TYPE = 'application/octet-stream';

interface Sidecar {
  contentType: string;
}

export class FsBlobStore implements BlobStore {
  /** `root` is created on the first write. */
  constructor(readonly root: string) {}

  /** The file holding a key's bytes (for writers that fill it in place: the tus file store). */
  pathOf(key: string): string {
    checkKey(key);
    return join(this.root, key);
  }

  async put(key: string, body: Readable | Buffer, opts: { contentType: string }): Promise<{ size: number }> {
    const path = this.pathOf(key);
    const tmpDir = join(this.root, '.tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, randomBytes(12).toString('base64url'));
    try {
      let size = 0;
      if (Buffer.isBuffer(body)) {
        await writeFile(tmp, body, { flag: 'wx', flush: true });
        size = body.length;
      } else {
        const count = new Transform({
          transform(chunk: Buffer, _enc, done) {
            size += chunk.length;
            done(null, chunk);
          },
        });
        await pipeline(body, count, createWriteStream(tmp, { flags: 'wx', flush: true }));
      }
      await this.writeMeta(key, { contentType: opts.contentType });
      await mkdir(dirname(path), { recursive: true });
      await rename(tmp, path);
      return { size };
    } catch (e) {
      await rm(tmp, { force: true });
      throw storageError(e);
    }
  }

  async get(key: string, range?: BlobRange): Promise<BlobRead | null> {
    const path = this.pathOf(key);
    if (range) checkRange(range);
    // Open first: the descriptor keeps these bytes even if a put renames a new file over them.
    const file = await open(path, 'r').catch((e: unknown) => {
      if (isMissing(e)) return null;
      throw e;
    });
    if (!file) return null;
    try {
      const st = await file.stat({ bigint: true });
      if (!st.isFile()) {
        await file.close();
        return null;
      }
      const size = Number(st.size);
      const { start, end } = resolveRange(range, size);
      const meta = await this.readMeta(key);
      let body: Readable;
      if (end < start) {
        // An empty blob: nothing to stream.
        await file.close();
        body = Readable.from([]);
      } else {
        body = file.createReadStream({ start, end });
      }
      return { body, size, start, end, contentType: meta.contentType, etag: etagOf(st) };
    } catch (e) {
      await file.close().catch(() => undefined);
      throw e;
    }
  }

  async head(key: string): Promise<BlobHead | null> {
    const st = await stat(this.pathOf(key), { bigint: true }).catch((e: unknown) => {
      if (isMissing(e)) return null;
      throw e;
    });
    if (!st?.isFile()) return null;
    const meta = await this.readMeta(key);
    return { size: Number(st.size), contentType: meta.contentType, etag: etagOf(st) };
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
    await rm(this.metaPath(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<BlobListEntry> {
    checkPrefix(prefix);
    // Start in the deepest directory the prefix names whole: 'u/ab' walks 'u/'.
    const base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    yield* this.walk(base, prefix);
  }

  /**
   * Records a key's content type (put does this itself; the tus file store, which writes the
   * bytes in place, calls it when an upload is created).
   */
  async writeMeta(key: string, meta: Sidecar): Promise<void> {
    const path = this.metaPath(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString('base64url')}.tmp`;
    const sidecar: Sidecar = { contentType: normalizeContentType(meta.contentType) };
    try {
      await writeFile(tmp, JSON.stringify(sidecar), { flush: true });
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw storageError(e);
    }
  }

  private metaPath(key: string): string {
    return join(this.root, '.meta', `${key}.json`);
  }

  private async readMeta(key: string): Promise<Sidecar> {
    try {
      const parsed = JSON.parse(await readFile(this.metaPath(key), 'utf8')) as Partial<Sidecar>;
      return { contentType: normalizeContentType(parsed.contentType) };
    } catch (e) {
      // A blob without a sidecar (or with a damaged one) is served as plain bytes.
      if (isMissing(e) || e instanceof SyntaxError) return { contentType: DEFAULT_TYPE };
      throw e;
    }
  }

  private async *walk(dir: string, prefix: string): AsyncIterable<BlobListEntry> {
    const entries = await readdir(join(this.root, dir), { withFileTypes: true }).catch((e: unknown) => {
      if (isMissing(e)) return [];
      throw e;
    });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const key = `${dir}${entry.name}`;
      if (entry.isDirectory()) {
        // Descend only where keys under it can start with the prefix.
        const sub = `${key}/`;
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) yield* this.walk(sub, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const st = await stat(join(this.root, key)).catch((e: unknown) => {
          if (isMissing(e)) return null; // deleted meanwhile
          throw e;
        });
        if (st) yield { key, size: st.size, modifiedAt: Math.floor(st.mtimeMs) };
      }
    }
  }
}

/** Size, modification time (ns) and inode: a put renames a new file in, so all of them move. */
function etagOf(st: BigIntStats): string {
  return `"${st.size.toString(16)}-${st.mtimeNs.toString(16)}-${st.ino.toString(16)}"`;
}

function isMissing(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

function storageError(e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? new ParleyError('storage_full') : e;
}
