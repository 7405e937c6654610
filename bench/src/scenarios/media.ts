/**
 * `media`: uploads at `--upload-rate` per second (default 50, by a worker process of its own)
 * while the dm workload runs at `--rate` (default 5000). Nine in ten are ~1 MB JPEG photos
 * (1600×1200, quality 85, made once at the start with sharp, the server's own image library),
 * which the server re-encodes and thumbnails before its last 204; one in ten is a 10 MB file
 * of random bytes, stored as it is. Each finished upload is sent in a message to the
 * uploader's partner, so the whole path is measured. The server's RSS is read before the
 * load and every 100 ms during it.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type sharpModule from 'sharp';
import { HttpApi, mapLimit, runPrefix, seedAccounts } from '../http-api.js';
import type { Account } from '../http-api.js';
import { readProc } from '../proc-stats.js';
import type { BenchResult } from '../result.js';
import { round } from '../result.js';
import type { LoadTiming } from '../worker/load-job.js';
import type { MediaTask, MediaUploader } from '../worker/media-job.js';
import { WorkerPool } from '../worker/pool.js';
import type { RunContext } from './common.js';
import { roundLatencies, runLoadPhase } from './common.js';
import { loadParams, seedPairs } from './dm.js';
import { random } from './search.js';

/** Server flags of the media run: a few users upload far past the per-user rate and quota. */
export const MEDIA_SERVER_FLAGS: readonly string[] = [
  '--uploads-per-min',
  '1000000',
  '--upload-quota-bytes',
  String(2 ** 40),
];

const UPLOADERS = 20;
const PHOTOS = 4;
const WIDTH = 1600;
const HEIGHT = 1200;
/** Photo size aimed at: about 1 MB, under the 1 MiB of one PATCH. */
const PHOTO_BYTES = 1_000_000;
const FILE_BYTES = 10 * 1000 * 1000;
const FILE_EVERY = 10;

const SERVER_PACKAGE = fileURLToPath(new URL('../../../packages/server/package.json', import.meta.url));

/**
 * A photo-like picture: smooth colour fields (sky, light, shapes) with sensor-like noise of
 * `noise` levels, which is what decides a JPEG's size at a given quality.
 */
function pixels(seed: number, noise: number): Buffer {
  const rand = random(seed);
  const buf = Buffer.alloc(WIDTH * HEIGHT * 3);
  // Per channel, a term along x and one along y: the field is their sum.
  const alongX = [0, 1, 2].map(() => {
    const f = 1 + rand() * 6;
    const ph = rand() * Math.PI * 2;
    return Float64Array.from({ length: WIDTH }, (_, x) => 40 * Math.sin(f * (x / WIDTH) * Math.PI + ph));
  });
  const alongY = [0, 1, 2].map(() => {
    const f = 1 + rand() * 6;
    const ph = rand() * Math.PI * 2;
    const tint = rand();
    return Float64Array.from(
      { length: HEIGHT },
      (_, y) => 90 + 60 * tint * (1 - y / HEIGHT) + 30 * Math.cos(f * (y / HEIGHT) * Math.PI + ph),
    );
  });
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const i = (y * WIDTH + x) * 3;
      for (let c = 0; c < 3; c++) {
        const base = (alongX[c] as Float64Array)[x] as number;
        const v = base + ((alongY[c] as Float64Array)[y] as number) + (rand() - 0.5) * 2 * noise;
        buf[i + c] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
      }
    }
  }
  return buf;
}

/** `PHOTOS` distinct JPEGs of about PHOTO_BYTES each, the noise level found by bisection. */
export async function makePhotos(): Promise<Uint8Array[]> {
  const sharp = createRequire(SERVER_PACKAGE)('sharp') as typeof sharpModule;
  const encode = (seed: number, noise: number): Promise<Buffer> =>
    sharp(pixels(seed, noise), { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
      .jpeg({ quality: 85 })
      .toBuffer();
  let lo = 0;
  let hi = 64;
  for (let k = 0; k < 6; k++) {
    const mid = (lo + hi) / 2;
    if ((await encode(1, mid)).length > PHOTO_BYTES) hi = mid;
    else lo = mid;
  }
  const out: Uint8Array[] = [];
  for (let s = 1; s <= PHOTOS; s++) {
    let jpeg = await encode(s, lo);
    // Another seed may land a little higher: under one PATCH whatever happens.
    for (let n = lo; jpeg.length > 1024 * 1024 && n > 0; n -= 2) jpeg = await encode(s, n);
    out.push(new Uint8Array(jpeg));
  }
  return out;
}

/** The server's resident memory (summed over its processes), MB; null when it is not ours. */
function serverRssMb(pids: number[]): number | null {
  if (pids.length === 0) return null;
  let total = 0;
  for (const pid of pids) total += readProc(pid)?.rss ?? 0;
  return total / 2 ** 20;
}

export async function runMedia(ctx: RunContext): Promise<BenchResult> {
  const { opts, server } = ctx;
  const api = new HttpApi(server.url);
  let uploaders: MediaUploader[];
  try {
    const accounts = await seedAccounts(api, `${runPrefix()}m`, UPLOADERS * 2);
    uploaders = await mapLimit(
      Array.from({ length: UPLOADERS }, (_, i) => i),
      16,
      async (i) => {
        const a = accounts[2 * i] as Account;
        const b = accounts[2 * i + 1] as Account;
        const c = await api.direct(a.token, b.username);
        return { token: a.token, conversationId: c.id };
      },
    );
  } finally {
    api.close();
  }
  const t0 = Date.now();
  const photos = await makePhotos();
  ctx.log(
    `made ${photos.length} photos of ${photos.map((p) => p.length).join(', ')} bytes in ` +
      `${(Date.now() - t0) / 1000} s`,
  );
  const clients = opts.clients ?? 200;
  const convs = await seedPairs(ctx, Math.max(1, Math.floor(clients / 2)));
  const rate = opts.rate ?? 5000;
  const rssStart = serverRssMb(server.pids);
  let rssMax = rssStart;
  const rssTimer = setInterval(() => {
    const mb = serverRssMb(server.pids);
    if (mb !== null) rssMax = Math.max(rssMax ?? 0, mb);
  }, 100);
  const uploader = WorkerPool.start(1);
  let r;
  try {
    r = roundLatencies(
      await runLoadPhase(ctx, {
        convs,
        ...loadParams(ctx, rate),
        extraPids: uploader.pids,
        during: (timing: LoadTiming) =>
          uploader.call<Record<string, unknown>>(0, 'media.run', {
            url: server.url,
            uploaders,
            photos,
            fileBytes: FILE_BYTES,
            fileEvery: FILE_EVERY,
            rate: opts.uploadRate,
            timing,
          } satisfies MediaTask),
      }),
    );
  } finally {
    clearInterval(rssTimer);
    await uploader.close();
  }
  const rssEnd = serverRssMb(server.pids);
  if (rssEnd !== null) rssMax = Math.max(rssMax ?? 0, rssEnd);
  return {
    scenario: 'media',
    ...r,
    server_rss_mb_start: rssStart === null ? null : round(rssStart),
    server_rss_mb_max: rssMax === null ? null : round(rssMax),
    server_rss_mb_growth: rssStart === null || rssMax === null ? null : round(rssMax - rssStart),
    server_rss_mb_end: rssEnd === null ? null : round(rssEnd),
  };
}
