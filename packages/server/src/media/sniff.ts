/**
 * The real type of uploaded bytes, read from their first bytes (magic numbers). The type a
 * client claims is never trusted: it decides nothing about how a file is shown or served.
 */
import { open } from 'node:fs/promises';
import { fileTypeFromBuffer } from 'file-type';

/** How many leading bytes `sniff` reads; more are ignored, so its cost is bounded. */
export const SNIFF_BYTES = 4100;

export interface Sniffed {
  /** As file-type names it, possibly with parameters (`audio/ogg; codecs=opus`). */
  mime: string;
  /** Usual file name extension, without the dot. */
  ext: string;
}

export type MediaKind = 'image' | 'video' | 'audio' | 'file';

/**
 * Images shown inline, thumbnailed by images.ts. HEIC is left out: sharp's prebuilt libvips
 * decodes AVIF but not HEVC-coded HEIF. SVG is never here: it can carry scripts.
 */
const INLINE_IMAGES: ReadonlySet<string> = new Set([
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/avif',
]);

/** The type of the bytes, or null when no known binary format matches (text, SVG, HTML…). */
export async function sniff(head: Uint8Array): Promise<Sniffed | null> {
  const type = await fileTypeFromBuffer(head.subarray(0, SNIFF_BYTES));
  return type ? { mime: type.mime, ext: type.ext } : null;
}

/** `sniff` of the first bytes of a file. */
export async function sniffFile(path: string): Promise<Sniffed | null> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await file.read(head, 0, SNIFF_BYTES, 0);
    return await sniff(head.subarray(0, bytesRead));
  } finally {
    await file.close();
  }
}

/** `type/subtype` in lower case, without parameters. */
export function baseType(mime: string): string {
  return (mime.split(';')[0] ?? '').trim().toLowerCase();
}

/** Whether the server thumbnails this type and clients may display it inline. */
export function isInlineImage(mime: string): boolean {
  return INLINE_IMAGES.has(baseType(mime));
}

/**
 * How a file of this type is presented. Only inline images are `'image'`: other image types
 * (SVG, TIFF, HEIC, icons…) are `'file'`, offered for download, as is every text type.
 */
export function kindOf(mime: string): MediaKind {
  const base = baseType(mime);
  if (isInlineImage(base)) return 'image';
  if (base.startsWith('video/')) return 'video';
  if (base.startsWith('audio/')) return 'audio';
  return 'file';
}
