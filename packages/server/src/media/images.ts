/**
 * Photos: thumbnails, placeholders and metadata stripping with sharp (libvips). Only the
 * formats clients display inline are decoded (JPEG, PNG, WebP, GIF, AVIF); anything else,
 * damaged data, or more pixels than the limit is refused with `unsupported_media`.
 */
import { ParleyError } from '@parley/protocol';
import sharp from 'sharp';
import type { Metadata, Sharp } from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { isInlineImage, sniff, sniffFile } from './sniff.js';

// One libvips thread per image and no operation cache: the server has 2 cores that also serve
// chat, and each upload is decoded once, so a cache would only hold memory.
sharp.concurrency(1);
sharp.cache(false);

export const DEFAULT_MAX_PIXELS = 50_000_000;
export const DEFAULT_THUMB_SIZE = 320;
export const DEFAULT_THUMB_QUALITY = 70;
/** thumbhash encodes images of at most 100×100. */
const PLACEHOLDER_SIZE = 100;

/** Image input: the bytes, or the path of a file holding them. */
export type ImageInput = Buffer | string;

export interface ImageOptions {
  /** Most pixels decoded (width × height, times the frames of an animation). Default 50 M. */
  maxPixels?: number;
}

export interface ProcessImageOptions extends ImageOptions {
  /** The thumbnail fits in a square of this side, in pixels. Default 320. */
  thumbSize?: number;
  /** WebP quality of the thumbnail, 1-100. Default 70. */
  thumbQuality?: number;
}

export interface ProcessedImage {
  /** Size as displayed: after the EXIF orientation is applied. */
  width: number;
  height: number;
  /** The first frame, oriented, fitted in `thumbSize`², never enlarged; sRGB, no metadata. */
  thumbnail: Buffer;
  thumbnailType: 'image/webp';
  thumbWidth: number;
  thumbHeight: number;
  /** A ThumbHash of the image, base64: a blurred preview to draw while the thumbnail loads. */
  placeholder: string;
}

type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif';

interface Inspected {
  format: ImageFormat;
  /** Displayed size of one frame. */
  width: number;
  height: number;
  frames: number;
}

/**
 * Sharp's failOn level: 'warning', its advice for untrusted input, refuses truncated and
 * corrupt data instead of decoding what it can and filling the rest with grey.
 */
const FAIL_ON = 'warning';

/** The thumbnail, size and placeholder of an uploaded photo (its first frame if animated). */
export async function processImage(
  input: ImageInput,
  opts: ProcessImageOptions = {},
): Promise<ProcessedImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const size = opts.thumbSize ?? DEFAULT_THUMB_SIZE;
  const image = await inspect(input, maxPixels, false);
  const { data: thumbnail, info } = await decoding(() =>
    decoder(input, maxPixels, false)
      .resize(size, size, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: opts.thumbQuality ?? DEFAULT_THUMB_QUALITY })
      .toBuffer({ resolveWithObject: true }),
  );
  return {
    width: image.width,
    height: image.height,
    thumbnail,
    thumbnailType: 'image/webp',
    thumbWidth: info.width,
    thumbHeight: info.height,
    placeholder: await placeholder(thumbnail),
  };
}

/**
 * The whole image re-encoded in its own format with the EXIF orientation applied and every
 * piece of metadata dropped (EXIF with GPS position, XMP, IPTC, ICC after conversion to sRGB).
 * Animations keep all their frames.
 */
export async function stripImage(input: ImageInput, opts: ImageOptions = {}): Promise<Buffer> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const { format, frames } = await inspect(input, maxPixels, true);
  const image = decoder(input, maxPixels, frames > 1);
  return decoding(() => encode(image, format).toBuffer());
}

function encode(image: Sharp, format: ImageFormat): Sharp {
  switch (format) {
    case 'jpeg':
      return image.jpeg({ quality: 90 });
    case 'png':
      return image.png();
    case 'webp':
      return image.webp({ quality: 90 });
    case 'gif':
      return image.gif();
    case 'avif':
      // AV1 encoding is slow: a low effort bounds the CPU time a large photo costs.
      return image.avif({ quality: 60, effort: 2 });
  }
}

/** A decoder for `input`, pixel limit set, oriented; no metadata is kept on output (sharp's default). */
function decoder(input: ImageInput, maxPixels: number, animated: boolean): Sharp {
  return sharp(input, { failOn: FAIL_ON, limitInputPixels: maxPixels, animated }).autoOrient();
}

/**
 * Reads the header only: refuses, before any pixel is decoded, a format outside the inline
 * ones and an image over the pixel limit (all frames when `allFrames`). The magic bytes are
 * checked first, so libvips never parses SVG, PDF or any other format.
 */
async function inspect(input: ImageInput, maxPixels: number, allFrames: boolean): Promise<Inspected> {
  const type = await (typeof input === 'string' ? sniffFile(input) : sniff(input));
  if (!type || !isInlineImage(type.mime)) throw unreadable();
  let meta: Metadata;
  try {
    meta = await sharp(input, { failOn: FAIL_ON, limitInputPixels: false }).metadata();
  } catch {
    throw unreadable();
  }
  const format = formatOf(meta);
  if (!format) throw unreadable();
  const { width, height } = meta.autoOrient;
  // GIF and WebP pages are the frames of an animation; HEIF ones are separate images.
  const animated = allFrames && (format === 'gif' || format === 'webp');
  const frames = animated ? Math.max(1, meta.pages ?? 1) : 1;
  const pixels = width * height * frames;
  if (pixels > maxPixels) {
    throw new ParleyError(
      'unsupported_media',
      `The image has ${pixels} pixels${frames > 1 ? ` in ${frames} frames` : ''}; the limit is ${maxPixels}`,
    );
  }
  return { format, width, height, frames };
}

function formatOf(meta: Metadata): ImageFormat | null {
  switch (meta.format) {
    case 'jpeg':
    case 'png':
    case 'webp':
    case 'gif':
      return meta.format;
    case 'heif':
      // HEIF holds AVIF (AV1) or HEIC (HEVC); only AVIF is decodable and displayed inline.
      return meta.compression === 'av1' ? 'avif' : null;
    default:
      return null;
  }
}

/** A ThumbHash of a ≤100×100 version of `thumbnail`, in base64 (20 to 30 bytes decoded). */
async function placeholder(thumbnail: Buffer): Promise<string> {
  const { data, info } = await sharp(thumbnail)
    .resize(PLACEHOLDER_SIZE, PLACEHOLDER_SIZE, { fit: 'inside', withoutEnlargement: true })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return Buffer.from(rgbaToThumbHash(info.width, info.height, data)).toString('base64');
}

/** Runs a decode, turning libvips' refusal of the pixel data into `unsupported_media`. */
async function decoding<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw unreadable(/pixel limit/i.test(String(err)) ? 'too many pixels' : undefined);
  }
}

function unreadable(why = 'damaged, truncated or not a JPEG, PNG, WebP, GIF or AVIF image'): ParleyError {
  return new ParleyError('unsupported_media', `The image cannot be read: ${why}`);
}
