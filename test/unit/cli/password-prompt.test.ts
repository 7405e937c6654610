import { PassThrough } from 'node:stream';
import type { ReadStream } from 'node:tty';
import { describe, expect, it } from 'vitest';
import { PromptCancelled, readHidden } from '@parley/server/dist/cli/password-prompt.js';

/** A stand-in for a terminal's stdin: records raw mode, takes keystrokes as written. */
function fakeTty() {
  const input = new PassThrough() as PassThrough & { isRaw: boolean; setRawMode(raw: boolean): void };
  const modes: boolean[] = [];
  input.isRaw = false;
  input.setRawMode = (raw: boolean) => {
    input.isRaw = raw;
    modes.push(raw);
  };
  let shown = '';
  const output = new PassThrough();
  output.on('data', (d: Buffer) => (shown += d.toString()));
  return { input, tty: input as unknown as ReadStream, output, modes, shown: () => shown };
}

describe('readHidden', () => {
  it('reads the line in raw mode, shows nothing of it, and keeps its spaces', async () => {
    const t = fakeTty();
    const answer = readHidden('Password: ', t.tty, t.output);
    t.input.write('  correct ');
    t.input.write('horse  \r');
    expect(await answer).toBe('  correct horse  ');
    expect(t.shown()).toBe('Password: \n');
    expect(t.modes).toEqual([true, false]);
  });

  it('deletes with backspace and Ctrl-U, and ignores arrow and function keys', async () => {
    const t = fakeTty();
    const answer = readHidden('Password: ', t.tty, t.output);
    t.input.write('wrong\u0015rigx\u007fht\u001b[D\u001b[1;5C\u001bOP!\r');
    expect(await answer).toBe('right!');
    expect(t.shown()).toBe('Password: \n');
  });

  it('leaves what follows Enter for the next reader', async () => {
    const t = fakeTty();
    const answer = readHidden('Password: ', t.tty, t.output);
    t.input.write('pw\r\n/list\r');
    expect(await answer).toBe('pw');
    expect(String(t.input.read())).toBe('/list\r');
  });

  it('gives up on Ctrl-C and restores the terminal mode', async () => {
    const t = fakeTty();
    const answer = readHidden('Password: ', t.tty, t.output);
    t.input.write('abc\u0003');
    await expect(answer).rejects.toBeInstanceOf(PromptCancelled);
    expect(t.input.isRaw).toBe(false);
  });

  it('gives up on Ctrl-D with nothing typed, or when the input ends', async () => {
    const t = fakeTty();
    const answer = readHidden('Password: ', t.tty, t.output);
    t.input.write('\u0004');
    await expect(answer).rejects.toBeInstanceOf(PromptCancelled);
    const u = fakeTty();
    const ended = readHidden('Password: ', u.tty, u.output);
    u.input.end();
    await expect(ended).rejects.toBeInstanceOf(PromptCancelled);
  });
});
