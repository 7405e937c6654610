/** Photos: orientation, thumbnails, placeholders, metadata stripping and the decoding guards. */
import { ParleyError } from '@parley/protocol';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { thumbHashToApproximateAspectRatio, thumbHashToAverageRGBA, thumbHashToRGBA } from 'thumbhash';
import { afterAll, describe, expect, it } from 'vitest';
import { processImage, stripImage } from '../../../packages/server/src/media/images.js';
import { sniff } from '../../../packages/server/src/media/sniff.js';

const RED = { r: 255, g: 0, b: 0 };
const BLUE = { r: 0, g: 0, b: 255 };

/** A 400×200 JPEG, red left half and blue right half, tagged to be shown turned 90° clockwise. */
function rotatedPhotoWithGps(): Promise<Buffer> {
  return sharp({ create: { width: 400, height: 200, channels: 3, background: BLUE } })
    .composite([
      { input: { create: { width: 200, height: 200, channels: 3, background: RED } }, left: 0, top: 0 },
    ])
    .jpeg()
    .withMetadata({ orientation: 6, exif: { IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' } } })
    .withIccProfile('p3')
    .toBuffer();
}

const solid = (width: number, height: number, background = RED): Sharp =>
  sharp({ create: { width, height, channels: 3, background } });

/** The colour of one pixel of an encoded image. */
async function pixel(image: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * info.channels;
  return [...data.subarray(at, at + 3)];
}

/** Expect a refusal with the registry code `unsupported_media`; returns its message. */
async function refused(work: Promise<unknown>): Promise<string> {
  const err: unknown = await work.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ParleyError);
  expect((err as ParleyError).code).toBe('unsupported_media');
  expect((err as ParleyError).status).toBe(415);
  return (err as ParleyError).message;
}

async function expectNoMetadata(image: Buffer): Promise<void> {
  const meta = await sharp(image).metadata();
  expect(meta.exif).toBeUndefined();
  expect(meta.xmp).toBeUndefined();
  expect(meta.iptc).toBeUndefined();
  expect(meta.icc).toBeUndefined();
  expect(meta.orientation).toBeUndefined();
  expect(image.includes('Exif\0')).toBe(false);
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('processImage', () => {
  it('applies the EXIF orientation: a 400×200 photo tagged 6 is 200×400', async () => {
    const input = await rotatedPhotoWithGps();
    const before = await sharp(input).metadata();
    expect([before.width, before.height, before.orientation]).toEqual([400, 200, 6]);
    expect(before.exif?.length).toBeGreaterThan(0);

    const out = await processImage(input);
    expect([out.width, out.height]).toEqual([200, 400]);
    expect([out.thumbWidth, out.thumbHeight]).toEqual([160, 320]);
    const meta = await sharp(out.thumbnail).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 160, 320]);
    expect(out.thumbnailType).toBe('image/webp');
    // Turned clockwise, the left (red) half is on top and the right (blue) half below.
    const [r1, , b1] = await pixel(out.thumbnail, 80, 40);
    const [r2, , b2] = await pixel(out.thumbnail, 80, 280);
    expect(r1).toBeGreaterThan(200);
    expect(b1).toBeLessThan(60);
    expect(b2).toBeGreaterThan(200);
    expect(r2).toBeLessThan(60);
  });

  it('writes a thumbnail without EXIF, GPS position or ICC profile', async () => {
    const out = await processImage(await rotatedPhotoWithGps());
    await expectNoMetadata(out.thumbnail);
  });

  it('fits the thumbnail in 320×320 (or the size asked), never enlarged', async () => {
    const wide = await processImage(await solid(1000, 500).png().toBuffer());
    expect([wide.width, wide.height, wide.thumbWidth, wide.thumbHeight]).toEqual([1000, 500, 320, 160]);
    const tall = await processImage(await solid(300, 900).webp().toBuffer());
    expect([tall.thumbWidth, tall.thumbHeight]).toEqual([107, 320]);
    const small = await processImage(await solid(100, 50).gif().toBuffer());
    expect([small.thumbWidth, small.thumbHeight]).toEqual([100, 50]);
    const sized = await processImage(await solid(1000, 500).png().toBuffer(), { thumbSize: 64 });
    expect([sized.thumbWidth, sized.thumbHeight]).toEqual([64, 32]);
    for (const out of [wide, tall, small, sized]) {
      const meta = await sharp(out.thumbnail).metadata();
      expect([meta.width, meta.height]).toEqual([out.thumbWidth, out.thumbHeight]);
    }
  });

  it('gives a ThumbHash placeholder that decodes to the colours and shape of the image', async () => {
    const out = await processImage(await rotatedPhotoWithGps());
    const hash = Buffer.from(out.placeholder, 'base64');
    expect(hash.toString('base64')).toBe(out.placeholder);
    expect(hash.length).toBeGreaterThanOrEqual(5);
    expect(hash.length).toBeLessThanOrEqual(40);
    // The hash keeps the aspect ratio roughly: 4:7 for 1:2.
    expect(thumbHashToApproximateAspectRatio(hash)).toBeGreaterThan(0.4);
    expect(thumbHashToApproximateAspectRatio(hash)).toBeLessThan(0.65);
    const { w, h, rgba } = thumbHashToRGBA(hash);
    expect(h).toBeGreaterThan(w);
    expect(rgba.length).toBe(w * h * 4);
    // Top row red, bottom row blue, as in the displayed photo.
    const top = (Math.floor(w / 2) + w) * 4;
    const bottom = (Math.floor(w / 2) + (h - 2) * w) * 4;
    expect(rgba[top]).toBeGreaterThan(rgba[top + 2] ?? 255);
    expect(rgba[bottom + 2]).toBeGreaterThan(rgba[bottom] ?? 255);

    const blue = await processImage(await solid(64, 64, BLUE).png().toBuffer());
    const avg = thumbHashToAverageRGBA(Buffer.from(blue.placeholder, 'base64'));
    expect(avg.b).toBeGreaterThan(0.9);
    expect(avg.r).toBeLessThan(0.1);
  });

  it('reads PNG, GIF, WebP and AVIF, and a file path', async () => {
    for (const format of ['png', 'gif', 'webp', 'avif'] as const) {
      const input = await solid(120, 80)
        .toFormat(format, format === 'avif' ? { effort: 0 } : {})
        .toBuffer();
      const out = await processImage(input);
      expect([out.width, out.height, out.thumbWidth], format).toEqual([120, 80, 120]);
    }
    const dir = mkdtempSync(join(tmpdir(), 'parley-media-'));
    dirs.push(dir);
    const path = join(dir, 'upload');
    writeFileSync(path, await rotatedPhotoWithGps());
    const out = await processImage(path);
    expect([out.width, out.height]).toEqual([200, 400]);
  });

  it('refuses an image over the pixel limit before decoding it', async () => {
    const input = await solid(1200, 1000).png().toBuffer();
    expect(await refused(processImage(input, { maxPixels: 1_000_000 }))).toMatch(
      /1200000 pixels.*limit is 1000000/,
    );
    expect((await processImage(input, { maxPixels: 1_200_000 })).width).toBe(1200);
  });

  it('refuses by default a JPEG whose header claims 8000×8000 pixels', async () => {
    const jpeg = await solid(16, 16).jpeg().toBuffer();
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    expect(sof).toBeGreaterThan(0);
    jpeg.writeUInt16BE(8000, sof + 5); // height
    jpeg.writeUInt16BE(8000, sof + 7); // width
    expect(await refused(processImage(jpeg))).toMatch(/64000000 pixels; the limit is 50000000/);
    await refused(stripImage(jpeg));
  });

  it('refuses a truncated JPEG', async () => {
    const jpeg = await sharp({
      create: {
        width: 300,
        height: 300,
        channels: 3,
        background: RED,
        noise: { type: 'gaussian', mean: 128, sigma: 40 },
      },
    })
      .jpeg()
      .toBuffer();
    const cut = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
    expect(await refused(processImage(cut))).toMatch(/cannot be read/);
    await refused(stripImage(cut));
  });

  it('refuses SVG, HTML, text and formats that are not displayed inline', async () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="50" height="50"><rect width="50" height="50"/></svg>';
    const tiff = await solid(20, 20).tiff().toBuffer();
    for (const input of [
      Buffer.from(svg),
      Buffer.from('<html><body>hi</body></html>'),
      Buffer.from('hello'),
      tiff,
    ]) {
      await refused(processImage(input));
      await refused(stripImage(input));
    }
  });

  it('keeps the error of a missing file, which is not the upload’s fault', async () => {
    const err: unknown = await processImage(join(tmpdir(), 'parley-no-such-file')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ParleyError);
  });
});

describe('stripImage', () => {
  it('re-encodes a JPEG as JPEG, turned upright, without EXIF, GPS or ICC', async () => {
    const out = await stripImage(await rotatedPhotoWithGps());
    expect((await sniff(out))?.mime).toBe('image/jpeg');
    const meta = await sharp(out).metadata();
    expect([meta.width, meta.height]).toEqual([200, 400]);
    await expectNoMetadata(out);
    const [r, , b] = await pixel(out, 100, 50);
    expect(r).toBeGreaterThan(200);
    expect(b).toBeLessThan(60);
  });

  it('keeps each format, and every frame of an animation', async () => {
    for (const [format, mime] of [
      ['png', 'image/png'],
      ['webp', 'image/webp'],
      ['avif', 'image/avif'],
    ] as const) {
      const input = await solid(60, 40)
        .toFormat(format, format === 'avif' ? { effort: 0 } : {})
        .withExif({ IFD0: { Copyright: 'someone' } })
        .toBuffer();
      expect((await sharp(input).metadata()).exif, format).toBeDefined();
      const out = await stripImage(input);
      expect((await sniff(out))?.mime, format).toBe(mime);
      await expectNoMetadata(out);
    }

    const frames = [RED, BLUE, RED].map((background) => solid(30, 20, background).png().toBuffer());
    const gif = await sharp(await Promise.all(frames), { join: { animated: true } })
      .gif({ delay: [100, 100, 100], loop: 0 })
      .toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(3);
    const out = await stripImage(gif);
    expect((await sniff(out))?.mime).toBe('image/gif');
    const meta = await sharp(out).metadata();
    expect([meta.pages, meta.width, meta.pageHeight ?? meta.height]).toEqual([3, 30, 20]);
    // An animation counts the pixels of all its frames; its thumbnail decodes only the first.
    expect(await refused(stripImage(gif, { maxPixels: 1500 }))).toMatch(/1800 pixels in 3 frames/);
    expect((await processImage(gif, { maxPixels: 1500 })).thumbWidth).toBe(30);
  });
});
