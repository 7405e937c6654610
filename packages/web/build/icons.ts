/**
 * The app's icons, drawn at build time so that no binary is committed: a white speech
 * bubble with three dots on Parley green. PNG for the manifest and iOS, SVG for the tab.
 */
import { deflateSync } from 'node:zlib';

const GREEN_TOP: Rgb = [0x00, 0xa8, 0x84];
const GREEN_BOTTOM: Rgb = [0x00, 0x6e, 0x5a];
const WHITE: Rgb = [0xff, 0xff, 0xff];
const DOT: Rgb = [0x00, 0x80, 0x69];

type Rgb = [number, number, number];

/** `maskable` icons fill the square (the platform crops them); `any` icons are rounded. */
export type IconPurpose = 'any' | 'maskable';

// Shapes in unit coordinates (0..1), tested per sample point.
function inRoundRect(
  x: number,
  y: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  r: number,
): boolean {
  if (x < x0 || x > x1 || y < y0 || y > y1) return false;
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

function inTriangle(x: number, y: number, a: number[], b: number[], c: number[]): boolean {
  const sign = (p: number[], q: number[]) =>
    (x - (q[0] ?? 0)) * ((p[1] ?? 0) - (q[1] ?? 0)) - ((p[0] ?? 0) - (q[0] ?? 0)) * (y - (q[1] ?? 0));
  const d1 = sign(a, b);
  const d2 = sign(b, c);
  const d3 = sign(c, a);
  const neg = d1 < 0 || d2 < 0 || d3 < 0;
  const pos = d1 > 0 || d2 > 0 || d3 > 0;
  return !(neg && pos);
}

function inCircle(x: number, y: number, cx: number, cy: number, r: number): boolean {
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

/** Which colour a point has, or null outside the icon (transparent). */
function paint(x: number, y: number, purpose: IconPurpose): Rgb | null {
  // Maskable icons keep their content inside the central 80% safe zone.
  const k = purpose === 'maskable' ? 0.8 : 1;
  const u = (x - 0.5) / k + 0.5;
  const v = (y - 0.5) / k + 0.5;
  if (purpose === 'any' && !inRoundRect(x, y, 0, 0, 1, 1, 0.22)) return null;
  const bubble =
    inRoundRect(u, v, 0.2, 0.24, 0.8, 0.68, 0.13) || inTriangle(u, v, [0.3, 0.6], [0.24, 0.8], [0.47, 0.66]);
  if (bubble) {
    for (const cx of [0.36, 0.5, 0.64]) if (inCircle(u, v, cx, 0.46, 0.045)) return DOT;
    return WHITE;
  }
  const t = y;
  return [0, 1, 2].map((i) => Math.round((GREEN_TOP[i] ?? 0) * (1 - t) + (GREEN_BOTTOM[i] ?? 0) * t)) as Rgb;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A `size`×`size` RGBA PNG of the icon, anti-aliased with 4×4 supersampling. */
export function iconPng(size: number, purpose: IconPurpose): Buffer {
  const S = 4;
  const row = size * 4 + 1;
  const raw = Buffer.alloc(row * size);
  for (let py = 0; py < size; py++) {
    raw[py * row] = 0; // filter: none
    for (let px = 0; px < size; px++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < S; sy++) {
        for (let sx = 0; sx < S; sx++) {
          const c = paint((px + (sx + 0.5) / S) / size, (py + (sy + 0.5) / S) / size, purpose);
          if (c === null) continue;
          r += c[0];
          g += c[1];
          b += c[2];
          a++;
        }
      }
      const o = py * row + 1 + px * 4;
      if (a > 0) {
        raw[o] = Math.round(r / a);
        raw[o + 1] = Math.round(g / a);
        raw[o + 2] = Math.round(b / a);
      }
      raw[o + 3] = Math.round((a / (S * S)) * 255);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The same icon as SVG (favicon). */
export function iconSvg(): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#00a884"/><stop offset="1" stop-color="#006e5a"/></linearGradient></defs>
<rect width="100" height="100" rx="22" fill="url(#g)"/>
<rect x="20" y="24" width="60" height="44" rx="13" fill="#fff"/><path d="M30 60 24 80 47 66z" fill="#fff"/>
<circle cx="36" cy="46" r="4.5" fill="#008069"/><circle cx="50" cy="46" r="4.5" fill="#008069"/><circle cx="64" cy="46" r="4.5" fill="#008069"/>
</svg>
`;
}
