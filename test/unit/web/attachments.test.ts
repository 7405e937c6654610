import { describe, expect, it } from 'vitest';
import { rgbaToThumbHash } from 'thumbhash';
import type { Message, PendingSend } from '../../../packages/client/src/index.js';
import {
  attachmentLabel,
  attachmentPreview,
  formatDuration,
  formatSize,
  placeholderUrl,
  waveformBars,
  waveformOf,
} from '../../../packages/web/src/lib/attachments.js';

const message = (attachments: Message['attachments'], text = ''): Message => ({
  id: 'm',
  conversationId: 'c',
  seq: 1,
  pos: 1,
  senderId: 'u',
  clientId: 'k',
  kind: 'text',
  text,
  createdAt: 0,
  attachments,
});

describe('attachment labels', () => {
  it('formats sizes and durations', () => {
    expect([12, 1500, 340_000, 1_234_567].map(formatSize)).toEqual(['12 B', '2 KB', '340 KB', '1.2 MB']);
    expect([0, 7_400, 65_000, 3_600_000].map(formatDuration)).toEqual(['0:00', '0:07', '1:05', '60:00']);
  });

  it('previews a message by its first attachment, the caption after the emoji', () => {
    const photo = { id: 'a', kind: 'image', name: 'p.jpg', size: 1, mime: 'image/jpeg' } as const;
    const voice = {
      id: 'b',
      kind: 'audio',
      name: 'v.webm',
      size: 1,
      mime: 'audio/webm',
      durationMs: 7000,
    } as const;
    const file = { id: 'c', kind: 'file', name: 'r.pdf', size: 1, mime: 'application/pdf' } as const;
    expect(attachmentPreview(message([photo]), '')).toBe('📷 Photo');
    expect(attachmentPreview(message([photo], 'Hi'), 'Hi')).toBe('📷 Hi');
    expect(attachmentPreview(message([voice]), '')).toBe('🎤 Voice message 0:07');
    expect(attachmentPreview(message([file]), '')).toBe('📎 r.pdf');
    expect(attachmentLabel({ kind: 'video', name: 'x', durationMs: 1 })).toBe('🎥 Video');
    expect(attachmentPreview(message(undefined, 'plain'), 'plain')).toBeUndefined();
    const pending: PendingSend = {
      clientId: 'k',
      conversationId: 'c',
      text: '',
      createdAt: 0,
      attachments: [{ uploadId: 'u' }],
    };
    expect(attachmentPreview(pending, '')).toBe('📎 Attachment');
  });
});

describe('waveforms', () => {
  it('keeps one peak per bar, scaled to the loudest, and reads them back', () => {
    const samples = new Float32Array(640);
    for (let i = 0; i < 640; i++) samples[i] = (i % 10 === 0 ? 1 : 0.1) * (i < 320 ? 0.5 : -1);
    const wave = waveformOf(samples, 64);
    const bars = waveformBars(wave);
    expect(bars).toHaveLength(64);
    expect(bars.slice(0, 32).every((b) => Math.abs(b - 128 / 255) < 0.01)).toBe(true);
    expect(bars.slice(32).every((b) => b === 1)).toBe(true);
    expect(atob(wave)).toHaveLength(64);
  });

  it('reads nothing from a missing or broken waveform', () => {
    expect(waveformBars(undefined)).toEqual([]);
    expect(waveformBars('!!not base64')).toEqual([]);
  });
});

describe('placeholders', () => {
  it('decodes a ThumbHash into a PNG data URL, and nothing from garbage', () => {
    const rgba = new Uint8Array(8 * 6 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 7) % 256));
    const hash = btoa(String.fromCharCode(...rgbaToThumbHash(8, 6, rgba)));
    expect(placeholderUrl(hash)).toMatch(/^data:image\/png;base64,/);
    expect(placeholderUrl('')).toBeUndefined();
    expect(placeholderUrl('%%%')).toBeUndefined();
  });
});
