/** The real type of uploaded bytes, and which types are shown inline. */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { SNIFF_BYTES, isInlineImage, kindOf, sniff } from '../../../packages/server/src/media/sniff.js';

const FIXTURES = new URL('../../fixtures/media/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

const picture = (): Sharp =>
  sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 40, b: 40 } } });

const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>';

describe('sniff', () => {
  it.each([
    ['jpeg', 'image/jpeg', 'jpg', () => picture().jpeg().toBuffer()],
    ['png', 'image/png', 'png', () => picture().png().toBuffer()],
    ['gif', 'image/gif', 'gif', () => picture().gif().toBuffer()],
    ['webp', 'image/webp', 'webp', () => picture().webp().toBuffer()],
    ['avif', 'image/avif', 'avif', () => picture().avif({ effort: 0 }).toBuffer()],
  ])('recognises %s from its bytes as an inline image', async (_name, mime, ext, make) => {
    const type = await sniff(await make());
    expect(type).toEqual({ mime, ext });
    expect(kindOf(mime)).toBe('image');
    expect(isInlineImage(mime)).toBe(true);
  });

  it('finds no type in plain text, SVG or HTML, so they are files', async () => {
    for (const text of [
      'hello world\n',
      SVG,
      '<!doctype html><html><body><script>alert(1)</script></body></html>',
    ]) {
      expect(await sniff(Buffer.from(text))).toBeNull();
    }
    expect(kindOf('application/octet-stream')).toBe('file');
  });

  it('never makes an SVG with an XML declaration an image', async () => {
    const type = await sniff(Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${SVG}`));
    expect(type?.mime ?? 'application/octet-stream').not.toMatch(/^image\//);
    expect(kindOf(type?.mime ?? 'application/octet-stream')).toBe('file');
  });

  it('ignores the name and claimed type: HTML uploaded as photo.jpg is not an image', async () => {
    const html = Buffer.from('<html><img src=x onerror="alert(document.cookie)"></html>');
    const type = await sniff(html);
    expect(type).toBeNull();
  });

  it('reads only the first SNIFF_BYTES bytes', async () => {
    const jpeg = await picture().jpeg().toBuffer();
    const head = await sniff(Buffer.concat([jpeg, Buffer.alloc(SNIFF_BYTES * 4, 0x41)]));
    expect(head?.mime).toBe('image/jpeg');
    // A signature past the first SNIFF_BYTES bytes is not seen.
    expect(await sniff(Buffer.concat([Buffer.alloc(SNIFF_BYTES, 0x20), jpeg]))).toBeNull();
  });

  it('recognises the voice-note containers', async () => {
    expect((await sniff(fixture('voice.ogg')))?.mime).toMatch(/^audio\/ogg/);
    expect(kindOf((await sniff(fixture('voice.ogg')))?.mime ?? '')).toBe('audio');
    expect((await sniff(fixture('voice.webm')))?.mime).toBe('video/webm');
    expect((await sniff(fixture('voice.m4a')))?.mime).toBe('audio/x-m4a');
    expect((await sniff(fixture('voice-fragmented.mp4')))?.mime).toBe('video/mp4');
  });
});

describe('kindOf and isInlineImage', () => {
  it('keep active or undecodable image types out of inline display', () => {
    for (const mime of ['image/svg+xml', 'text/html', 'application/xhtml+xml', 'image/heic', 'image/tiff']) {
      expect(isInlineImage(mime), mime).toBe(false);
      expect(kindOf(mime), mime).toBe('file');
    }
  });

  it('read the type without parameters, in any case', () => {
    expect(kindOf('IMAGE/PNG')).toBe('image');
    expect(isInlineImage(' image/webp ; q=1')).toBe(true);
    expect(kindOf('audio/ogg; codecs=opus')).toBe('audio');
    expect(kindOf('video/mp4')).toBe('video');
    expect(kindOf('text/plain; charset=utf-8')).toBe('file');
    expect(kindOf('')).toBe('file');
  });
});
