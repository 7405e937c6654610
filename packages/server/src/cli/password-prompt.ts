/**
 * Reading a password without showing it. readline echoes what is typed, so the terminal is
 * put in raw mode for the prompt and nothing is written back while the password is typed.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Writable } from 'node:stream';
import type { ReadStream } from 'node:tty';

/** Thrown when the person at the terminal gives up (Ctrl-C, or Ctrl-D on an empty line). */
export class PromptCancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

/**
 * Ask for a secret on a terminal: writes `prompt` to `output` and reads one line from
 * `input` with nothing shown. The answer is taken as typed, spaces included (no trimming).
 * Backspace deletes a character, Ctrl-U the whole line; arrow and function keys are ignored.
 * Whatever follows Enter in the same burst (typed ahead, or pasted) is left in `input`.
 * @throws PromptCancelled on Ctrl-C, on Ctrl-D with nothing typed, or when `input` ends.
 */
export function readHidden(prompt: string, input: ReadStream, output: Writable): Promise<string> {
  return new Promise((resolve, reject) => {
    const wasRaw = input.isRaw;
    const decoder = new StringDecoder('utf8');
    let typed: string[] = [];
    const finish = (err: Error | null, rest = '') => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.setRawMode(wasRaw);
      input.pause();
      if (rest !== '') input.unshift(Buffer.from(rest, 'utf8'));
      output.write('\n');
      if (err) reject(err);
      else resolve(typed.join(''));
    };
    const onEnd = () => finish(new PromptCancelled());
    const onData = (chunk: Buffer | string) => {
      const chars = Array.from(typeof chunk === 'string' ? chunk : decoder.write(chunk));
      for (let i = 0; i < chars.length; i++) {
        const c = chars[i]!;
        if (c === '\r' || c === '\n') {
          // A pasted "\r\n" is one Enter.
          const next = c === '\r' && chars[i + 1] === '\n' ? i + 2 : i + 1;
          return finish(null, chars.slice(next).join(''));
        }
        if (c === '\u0003' || (c === '\u0004' && typed.length === 0)) return finish(new PromptCancelled());
        if (c === '\u007f' || c === '\b') typed.pop();
        else if (c === '\u0015') typed = [];
        else if (c === '\u001b') {
          // An escape sequence (an arrow or function key) arrives whole: skip to its final byte.
          if (chars[i + 1] === '[' || chars[i + 1] === 'O') {
            i += 2;
            while (i < chars.length && !/[@-~]/.test(chars[i]!)) i++;
          }
        } else if (c >= ' ') typed.push(c);
      }
    };
    input.setRawMode(true);
    output.write(prompt);
    input.on('data', onData);
    input.once('end', onEnd);
    input.resume();
  });
}
