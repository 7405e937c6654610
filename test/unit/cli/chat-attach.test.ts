import { describe, expect, it } from 'vitest';
import {
  CHAT_COMMANDS,
  attachmentLine,
  formatSize,
  parseAttach,
} from '../../../packages/server/src/cli/chat-commands.js';
import { splitArgs } from '../../../packages/server/src/cli/command-line.js';

const args = (line: string) => splitArgs(line).slice(1);

describe('/attach', () => {
  it('is listed with its arguments', () => {
    expect(CHAT_COMMANDS.find((c) => c.name === 'attach')?.args).toBe('<path> [caption]');
  });

  it('takes a path, quoted when it has spaces, and the rest as the caption', () => {
    expect(parseAttach(args('attach photo.jpg'))).toEqual({ path: 'photo.jpg', caption: '' });
    expect(parseAttach(args('attach "my photos/beach day.jpg" at the beach'))).toEqual({
      path: 'my photos/beach day.jpg',
      caption: 'at the beach',
    });
    expect(parseAttach(args('attach'))).toBeNull();
  });
});

describe('attachment lines', () => {
  it('say the kind, the name and the size, and a voice note’s duration', () => {
    expect(attachmentLine({ kind: 'image', name: 'name.jpg', size: 1_234_567 })).toBe(
      '[photo name.jpg 1.2 MB]',
    );
    expect(attachmentLine({ kind: 'file', name: 'notes.txt', size: 340 })).toBe('[file notes.txt 340 B]');
    expect(attachmentLine({ kind: 'audio', name: 'v.webm', size: 14_200, durationMs: 67_400 })).toBe(
      '[voice v.webm 14 KB 1:07]',
    );
    expect(attachmentLine({ kind: 'video', name: 'clip.mp4', size: 2e9 })).toBe('[video clip.mp4 2.0 GB]');
  });

  it('show control characters of a hostile name escaped', () => {
    const line = attachmentLine({ kind: 'file', name: 'a\u001b]0;pwned\u0007\u202eb.txt', size: 1 });
    expect(line).toBe('[file a^[]0;pwned^G\\u202eb.txt 1 B]');
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/[\u0000-\u001f\u202e]/);
  });

  it('formats sizes in decimal units', () => {
    expect([999, 1000, 999_499, 1_000_000, 15_250_000].map(formatSize)).toEqual([
      '999 B',
      '1 KB',
      '999 KB',
      '1.0 MB',
      '15.3 MB',
    ]);
  });
});
