/**
 * Uploads at a fixed rate during a load phase, in a worker process of their own (as searches
 * are made, see search-job.ts): each one speaks tus 1.0.0 to `/v1/uploads` (POST, then PATCHes
 * of 1 MiB, the SDK's chunk size) and is then sent in a message to the uploader's partner.
 */
import { Agent, request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { now, sleepUntil } from '../clock.js';
import { Histogram } from '../histogram.js';
import { round } from '../result.js';
import type { LoadTiming } from './load-job.js';
import { openLoop } from './open-loop.js';

export interface MediaUploader {
  token: string;
  /** The direct conversation with the partner the uploads are sent to. */
  conversationId: string;
}

export interface MediaTask {
  url: string;
  uploaders: MediaUploader[];
  /** JPEG photos, used in turn. */
  photos: Uint8Array[];
  /** Size of the random-bytes file sent as one upload in `fileEvery`, bytes. */
  fileBytes: number;
  fileEvery: number;
  /** Uploads per second, open loop. */
  rate: number;
  timing: LoadTiming;
}

/** The SDK's default chunk: a PATCH carries at most this much. */
const CHUNK = 1024 * 1024;
/** Uploads in flight at most; one due while they are all out is counted as skipped. */
const MAX_IN_FLIGHT = 64;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

class UploadError extends Error {}

export async function runUploads(task: MediaTask): Promise<Record<string, unknown>> {
  const { rate, timing } = task;
  const base = new URL(task.url);
  const agent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT * 2 });
  // Random bytes sniff as no known type: stored as a plain file, never decoded.
  const file = randomBytes(task.fileBytes);

  const call = (
    method: string,
    path: string,
    headers: Record<string, string | number>,
    body?: Uint8Array,
  ): Promise<Answer> =>
    new Promise<Answer>((resolve, reject) => {
      const req = request(
        { host: base.hostname, port: Number(base.port || 80), method, path, headers, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString(),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const expect = (a: Answer, status: number, what: string): void => {
    if (a.status !== status) throw new UploadError(`${what}: ${a.status} ${a.body.slice(0, 200)}`);
  };

  const all = new Histogram();
  const photos = new Histogram();
  const files = new Histogram();
  const thumbnails = new Histogram();
  const sends = new Histogram();
  const errorsByKind: Record<string, number> = {};
  let errors = 0;
  let noThumbnail = 0;
  let bytes = 0;

  const upload = async (n: number): Promise<void> => {
    const who = task.uploaders[n % task.uploaders.length] as MediaUploader;
    const isFile = n % task.fileEvery === task.fileEvery - 1;
    const body = isFile ? file : (task.photos[n % task.photos.length] as Uint8Array);
    const name = isFile ? `bench-${n}.bin` : `bench-${n}.jpg`;
    const type = isFile ? 'application/octet-stream' : 'image/jpeg';
    const auth = `Bearer ${who.token}`;
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const t0 = now();
    const created = await call('POST', '/v1/uploads', {
      authorization: auth,
      'tus-resumable': '1.0.0',
      'upload-length': body.length,
      'upload-metadata': `filename ${b64(name)},filetype ${b64(type)}`,
    });
    expect(created, 201, 'POST /v1/uploads');
    const location = String(created.headers.location ?? '');
    const path = new URL(location, base).pathname;
    let last: Answer | null = null;
    let lastFrom = t0;
    for (let offset = 0; offset < body.length; offset += CHUNK) {
      const chunk = body.subarray(offset, Math.min(body.length, offset + CHUNK));
      lastFrom = now();
      last = await call(
        'PATCH',
        path,
        {
          authorization: auth,
          'tus-resumable': '1.0.0',
          'upload-offset': offset,
          'content-type': 'application/offset+octet-stream',
          'content-length': chunk.length,
        },
        chunk,
      );
      expect(last, 204, 'PATCH');
    }
    const t1 = now();
    const header = last?.headers['parley-upload'];
    if (typeof header !== 'string') throw new UploadError('final PATCH: no Parley-Upload header');
    const attachment = JSON.parse(header) as { id: string; kind: string; thumbnail?: boolean };
    if (!isFile && (attachment.kind !== 'image' || attachment.thumbnail !== true)) noThumbnail++;
    const sent = await call(
      'POST',
      `/v1/conversations/${encodeURIComponent(who.conversationId)}/messages`,
      { authorization: auth, 'content-type': 'application/json' },
      Buffer.from(
        JSON.stringify({
          clientId: `media-${n}`,
          text: '',
          attachments: [{ uploadId: attachment.id }],
        }),
      ),
    );
    if (sent.status !== 200 && sent.status !== 201) {
      throw new UploadError(`send: ${sent.status} ${sent.body.slice(0, 200)}`);
    }
    const t2 = now();
    all.recordMs(t1 - t0);
    (isFile ? files : photos).recordMs(t1 - t0);
    // The final PATCH's request to its 204: its bytes over loopback, then the processing.
    if (!isFile) thumbnails.recordMs(t1 - lastFrom);
    sends.recordMs(t2 - t1);
    bytes += body.length;
  };

  try {
    await sleepUntil(timing.measureFrom);
    const from = now();
    const { skipped, pending } = await openLoop(rate, from, timing.measureTo, MAX_IN_FLIGHT, (n) =>
      upload(n).catch((err: unknown) => {
        errors++;
        const kind = err instanceof UploadError ? err.message.split(':')[0] : 'network';
        errorsByKind[kind as string] = (errorsByKind[kind as string] ?? 0) + 1;
        if (errors <= 3) process.stderr.write(`[bench] media upload failed: ${String(err)}\n`);
      }),
    );
    const windowS = (timing.measureTo - from) / 1000;
    await Promise.race([Promise.all(pending), sleepUntil(timing.measureTo + timing.drainMs)]);
    const ms = (h: Histogram, x: number): number | null => {
      const v = h.quantileMs(x);
      return v === null ? null : round(v);
    };
    return {
      upload_rate: rate,
      uploads_per_s: round(all.total / windowS),
      upload_mb_per_s: round(bytes / 2 ** 20 / windowS),
      upload_p50_ms: ms(all, 0.5),
      upload_p99_ms: ms(all, 0.99),
      photo_uploads: photos.total,
      photo_upload_p50_ms: ms(photos, 0.5),
      photo_upload_p99_ms: ms(photos, 0.99),
      file_uploads: files.total,
      file_upload_p50_ms: ms(files, 0.5),
      file_upload_p99_ms: ms(files, 0.99),
      thumbnail_p50_ms: ms(thumbnails, 0.5),
      thumbnail_p99_ms: ms(thumbnails, 0.99),
      attachment_send_p99_ms: ms(sends, 0.99),
      upload_errors: errors + pending.size,
      upload_errors_by_step: errorsByKind,
      upload_skipped: skipped,
      photos_without_thumbnail: noThumbnail,
    };
  } finally {
    agent.destroy();
  }
}
