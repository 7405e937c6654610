/**
 * Attachments: tus uploads recorded in the store, processed when their last byte arrives
 * (sniffed; photos stripped of metadata, thumbnailed; voice notes timed), claimed by the
 * messages that carry them, served to whoever sees those messages, and removed when their
 * message is deleted for everyone or when they were never attached (the sweep).
 *
 * The blob and media modules load on first use: the AWS SDK and sharp cost a noticeable part
 * of the server's start.
 */
import type { Readable } from 'node:stream';
import { MAX_ATTACHMENT_DURATION_MS, ParleyError } from '@parley/protocol';
import type { Attachment, AttachmentRef } from '@parley/protocol';
import type { BlobStore } from '../blobs/blob-store.js';
import type { BlobStorageConfig } from '../blobs/storage.js';
import type { Uploads } from '../blobs/uploads.js';
import type { Logger } from '../logger.js';
import { KeyedBuckets } from '../rate-limit.js';
import type { UploadsStore } from '../store/store.js';

export interface AttachmentOptions {
  storage: BlobStorageConfig;
  /** Largest upload, bytes. */
  maxUploadBytes: number;
  /** Bytes one user may keep stored. */
  quotaBytes: number;
  /** Uploads one user may create per minute. */
  uploadsPerMin: number;
  /** Unattached uploads are removed this long after their creation, ms. */
  graceMs: number;
  /** How often the sweep runs, ms (0: never). */
  sweepMs: number;
}

/** Where an upload's thumbnail lives. */
export const thumbnailKey = (id: string) => `t/${id}.webp`;

/** Audio and video read whole to find their duration, at most (larger ones take the client's value). */
const MAX_PROBED_BYTES = 32 * 1024 * 1024;
/** Uploads removed per sweep round. */
const SWEEP_BATCH = 100;

/**
 * A file name as shown to others: its last path segment, without control, format (bidi,
 * zero-width) or separator characters, at most 255 characters; 'file' when nothing is left.
 */
export function sanitizeName(raw: string | null | undefined): string {
  const base = (raw ?? '').split(/[/\\]/).pop() ?? '';
  const clean = base
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .trim()
    .replace(/^\.+/, '');
  const cut = [...clean].slice(0, 255).join('');
  return cut.length > 0 ? cut : 'file';
}

/** The attachment as a header value: JSON with every non-ASCII character escaped. */
export function headerJson(a: Attachment): string {
  const { waveform: _w, ...rest } = a;
  return JSON.stringify(rest).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export class AttachmentService {
  private loaded: Promise<Uploads> | undefined;
  private readonly creates: KeyedBuckets;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  /** When files without a record were last looked for (0: not yet since start). */
  private orphansSweptAt = 0;
  /** Who sent each request handed to tus (authenticated by the route), by its Node request. */
  private readonly uploaders = new WeakMap<object, string>();

  constructor(
    private readonly store: UploadsStore,
    private readonly opts: AttachmentOptions,
    private readonly log: Logger,
  ) {
    this.creates = new KeyedBuckets(opts.uploadsPerMin / 60, opts.uploadsPerMin);
  }

  /** The tus server and the blob store, made on first use. */
  uploads(): Promise<Uploads> {
    this.loaded ??= import('../blobs/uploads.js').then(({ createUploads }) =>
      createUploads({
        storage: this.opts.storage,
        maxSize: this.opts.maxUploadBytes,
        relativeLocation: true,
        exposedHeaders: ['Parley-Upload'],
        onUploadCreate: async (req, upload) => {
          const userId = this.uploaderOf(req);
          if (userId === undefined) throw { status_code: 401, body: 'Unauthorized\n' };
          await this.store.createUpload({
            id: upload.id,
            userId,
            name: sanitizeName(upload.metadata?.filename),
            size: upload.size ?? 0,
            createdAt: Date.now(),
          });
          return {};
        },
        onUploadFinish: async (_req, upload) => {
          const a = await this.finish(upload.id);
          return { headers: { 'Parley-Upload': headerJson(a) } };
        },
      }),
    );
    return this.loaded;
  }

  /** Record the authenticated sender of a request before handing it to tus. */
  setUploader(nodeRequest: object, userId: string): void {
    this.uploaders.set(nodeRequest, userId);
  }

  /** The sender of a request tus hands to a hook (srvx keeps the Node request on it). */
  private uploaderOf(req: Request): string | undefined {
    const node = (req as { runtime?: { node?: { req?: object } } }).runtime?.node?.req;
    return node === undefined ? undefined : this.uploaders.get(node);
  }

  /** Before an upload is created: the caller's rate and quota. */
  async checkCreate(userId: string, length: number): Promise<void> {
    if (!this.creates.take(userId, Date.now()))
      throw new ParleyError('rate_limited', 'Too many uploads; slow down');
    if (length > this.opts.maxUploadBytes) {
      throw new ParleyError('body_too_large', `Uploads are at most ${this.opts.maxUploadBytes} bytes`);
    }
    const used = await this.store.uploadUsage(userId);
    if (used + length > this.opts.quotaBytes) throw new ParleyError('quota_exceeded');
  }

  /** A request naming upload `id` (HEAD, PATCH, DELETE): only its uploader's. */
  async checkOwner(userId: string, id: string): Promise<void> {
    const up = await this.store.getUpload(id);
    if (up?.userId !== userId) throw new ParleyError('not_found');
  }

  /** GET /v1/uploads/:id: the finished upload's attachment, for its uploader only. */
  async ownUpload(userId: string, id: string): Promise<Attachment> {
    const up = await this.store.getUpload(id);
    if (up?.userId !== userId || !up.attachment) throw new ParleyError('not_found');
    return up.attachment;
  }

  /** What a download serves: the attachment, if `userId` may read it. */
  async readable(userId: string, id: string): Promise<{ attachment: Attachment; blobs: BlobStore }> {
    const up = await this.store.getUpload(id);
    if (!up?.attachment || !(await this.store.canReadUpload(userId, id))) throw new ParleyError('not_found');
    return { attachment: up.attachment, blobs: (await this.uploads()).blobs };
  }

  /** The last byte arrived: sniff and process the bytes, record the attachment. */
  private async finish(id: string): Promise<Attachment> {
    const [{ blobs }, media, images, audio, { uploadKey }] = await Promise.all([
      this.uploads(),
      import('../media/sniff.js'),
      import('../media/images.js'),
      import('../media/audio.js'),
      import('../blobs/blob-store.js'),
    ]);
    const up = await this.store.getUpload(id);
    if (!up) throw { status_code: 404, body: 'Not found\n' };
    const key = uploadKey(id);
    const head = await blobs.head(key);
    const size = head?.size ?? 0;
    const first = size > 0 ? await readAll(blobs, key, media.SNIFF_BYTES - 1) : Buffer.alloc(0);
    const sniffed = await media.sniff(first);
    const mime = sniffed?.mime ?? 'application/octet-stream';
    const a: Attachment = { id, kind: media.kindOf(mime), name: up.name, size, mime };
    if (a.kind === 'image') {
      try {
        const bytes = await readAll(blobs, key);
        const [shown, stripped] = await Promise.all([images.processImage(bytes), images.stripImage(bytes)]);
        await blobs.put(thumbnailKey(id), shown.thumbnail, { contentType: shown.thumbnailType });
        await blobs.put(key, stripped, { contentType: mime });
        Object.assign(a, {
          size: stripped.length,
          width: shown.width,
          height: shown.height,
          placeholder: shown.placeholder,
          thumbnail: true,
        });
      } catch (err) {
        // Not an image sharp reads (damaged, too many pixels): still a file.
        this.log.debug({ err, id }, 'upload kept as a file: image processing failed');
        a.kind = 'file';
      }
    } else if ((a.kind === 'audio' || a.kind === 'video') && size <= MAX_PROBED_BYTES) {
      try {
        const bytes = await readAll(blobs, key);
        const note = await audio.probeVoiceNote(bytes);
        if (note) {
          a.kind = 'audio';
          a.mime = note.mime;
          if (note.durationMs !== null) a.durationMs = note.durationMs;
        } else if (a.kind === 'audio') {
          const ms = await audio.audioDurationMs(bytes);
          if (ms !== null) a.durationMs = ms;
        }
      } catch (err) {
        this.log.debug({ err, id }, 'upload duration unknown');
      }
    }
    await this.store.finishUpload(id, a);
    return a;
  }

  /**
   * Claim the uploads a send names, for the message (conversationId, clientId): the sender's,
   * finished, not attached to another message. Answers the message's attachments, with the
   * client's duration (bounded) where the bytes had none, and voice-note waveforms.
   */
  async claim(
    userId: string,
    conversationId: string,
    clientId: string,
    refs: readonly AttachmentRef[],
  ): Promise<Attachment[]> {
    const r = await this.store.claimUploads(
      userId,
      conversationId,
      clientId,
      refs.map((x) => x.uploadId),
    );
    if (!r.ok) {
      throw new ParleyError(
        'invalid_field',
        `attachments: upload ${r.uploadId} is not a finished upload of yours, or is attached to another message`,
      );
    }
    return r.attachments.map((a, i) => {
      const ref = refs[i] as AttachmentRef;
      const out: Attachment = { ...a };
      const timed = a.kind === 'audio' || a.kind === 'video';
      if (timed && out.durationMs === undefined && ref.durationMs !== undefined) {
        out.durationMs = Math.min(Math.max(0, ref.durationMs), MAX_ATTACHMENT_DURATION_MS);
      }
      if (a.kind === 'audio' && ref.waveform !== undefined) out.waveform = ref.waveform;
      return out;
    });
  }

  /** The uploader terminated an unfinished upload (tus DELETE): its record goes too. */
  terminated(id: string): void {
    this.store
      .deleteUpload(id)
      .catch((err: unknown) => this.log.error({ err, id }, 'forgetting a terminated upload failed'));
  }

  /** The message was refused (not stored): its uploads are free again. */
  release(userId: string, conversationId: string, clientId: string): void {
    this.store
      .releaseUploads(userId, conversationId, clientId)
      .catch((err: unknown) => this.log.error({ err }, 'releasing uploads failed'));
  }

  /**
   * A message deleted for everyone: its uploads are detached and their bytes removed. A
   * failure leaves them unattached, and the sweep removes them.
   */
  async messageDeleted(senderId: string, conversationId: string, clientId: string): Promise<void> {
    const ids = await this.store.detachUploads(senderId, conversationId, clientId);
    for (const id of ids) await this.remove(id);
  }

  private async remove(id: string): Promise<void> {
    try {
      const uploads = await this.uploads();
      await uploads.removeUpload(id);
      await uploads.blobs.delete(thumbnailKey(id));
      await this.store.deleteUpload(id);
    } catch (err) {
      this.log.error({ err, id }, 'removing an upload failed; the sweep retries');
    }
  }

  /**
   * Remove uploads never attached within the grace period (finished or not), then files no
   * record names (a restored database older than the files, a crash between the bytes and
   * the record) last written before the grace period.
   */
  async sweep(now = Date.now()): Promise<number> {
    const before = now - this.opts.graceMs;
    let removed = 0;
    for (;;) {
      const ids = await this.store.staleUploads(before, SWEEP_BATCH);
      for (const id of ids) await this.remove(id);
      removed += ids.length;
      if (ids.length < SWEEP_BATCH) break;
    }
    // The listing reads every file (and a record per old one): once per grace period.
    if (now - this.orphansSweptAt < this.opts.graceMs) return removed;
    this.orphansSweptAt = now;
    return removed + (await this.sweepOrphans(before));
  }

  private async sweepOrphans(before: number): Promise<number> {
    const { blobs } = await this.uploads();
    const { isUploadId } = await import('../blobs/uploads.js');
    const seen = new Set<string>();
    for (const prefix of ['u/', 't/']) {
      for await (const e of blobs.list(prefix)) {
        const id = e.key.slice(2).split('.')[0] ?? '';
        if (e.modifiedAt >= before || !isUploadId(id)) continue;
        seen.add(id);
      }
    }
    let removed = 0;
    for (const id of seen) {
      if ((await this.store.getUpload(id)) !== null) continue;
      await this.remove(id);
      removed++;
    }
    return removed;
  }

  start(): void {
    if (this.opts.sweepMs <= 0) return;
    this.sweeper = setInterval(() => {
      this.sweeping ??= this.sweep()
        .then(() => undefined)
        .catch((err: unknown) => this.log.error({ err }, 'upload sweep failed'))
        .finally(() => (this.sweeping = undefined));
    }, this.opts.sweepMs);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.sweeping;
    if (this.loaded) await (await this.loaded).close();
  }
}

/** The blob (or its first bytes up to `end`) in memory: for images and short media only. */
async function readAll(blobs: BlobStore, key: string, end?: number): Promise<Buffer> {
  const r = await blobs.get(key, end === undefined ? undefined : { start: 0, end });
  if (!r) throw new ParleyError('not_found');
  const chunks: Buffer[] = [];
  for await (const c of r.body as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
