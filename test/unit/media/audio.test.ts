/**
 * Voice notes: container and duration of what MediaRecorder produces. The recordings are
 * 1.5 s long (test/fixtures/media/README.md says how they were made).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { audioDurationMs, probeVoiceNote } from '../../../packages/server/src/media/audio.js';

const FIXTURES = new URL('../../fixtures/media/', import.meta.url);
const path = (name: string): string => fileURLToPath(new URL(name, FIXTURES));
const bytes = (name: string): Buffer => readFileSync(path(name));

const dir = mkdtempSync(join(tmpdir(), 'parley-audio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('probeVoiceNote', () => {
  it('reads the duration of Ogg Opus from its last granule position, less the pre-skip', async () => {
    expect(await probeVoiceNote(bytes('voice.ogg'))).toEqual({ mime: 'audio/ogg', durationMs: 1500 });
    expect(await probeVoiceNote(path('voice.ogg'))).toEqual({ mime: 'audio/ogg', durationMs: 1500 });
  });

  it.each([
    ['voice.webm', 'audio/webm'],
    ['voice.m4a', 'audio/mp4'],
    ['voice-fragmented.mp4', 'audio/mp4'],
  ])('reads the duration %s records, from bytes and from a file', async (name, mime) => {
    for (const input of [bytes(name), path(name)]) {
      const note = await probeVoiceNote(input);
      expect(note?.mime).toBe(mime);
      // Encoder priming and the last frame's length: within a few tens of ms of 1.5 s.
      expect(note?.durationMs).toBeGreaterThanOrEqual(1490);
      expect(note?.durationMs).toBeLessThanOrEqual(1530);
    }
  });

  it('says null for the duration of a WebM written as a stream, which records none', async () => {
    expect(await probeVoiceNote(bytes('voice-recorder.webm'))).toEqual({
      mime: 'audio/webm',
      durationMs: null,
    });
    expect(await audioDurationMs(path('voice-recorder.webm'))).toBeNull();
  });

  it('chooses the parser from the bytes, not the file name', async () => {
    const misnamed = join(dir, 'note.mp3');
    copyFileSync(path('voice.ogg'), misnamed);
    expect(await probeVoiceNote(misnamed)).toEqual({ mime: 'audio/ogg', durationMs: 1500 });
  });

  it('is not a voice note: a video, an image, text, a damaged MP4', async () => {
    expect(await probeVoiceNote(bytes('video.webm'))).toBeNull();
    expect(
      await probeVoiceNote(
        await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } })
          .png()
          .toBuffer(),
      ),
    ).toBeNull();
    expect(await probeVoiceNote(Buffer.from('OggS is not enough'))).toBeNull();
    expect(await probeVoiceNote(Buffer.alloc(0))).toBeNull();
    const m4a = bytes('voice.m4a');
    expect(await probeVoiceNote(m4a.subarray(0, m4a.length - 500))).toBeNull();
  });
});

describe('audioDurationMs', () => {
  it('is the duration of a voice note, or null', async () => {
    expect(await audioDurationMs(bytes('voice.ogg'))).toBe(1500);
    expect(await audioDurationMs(bytes('video.webm'))).toBeNull();
  });
});
