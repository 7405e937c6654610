import { describe, expect, it } from 'vitest';
import { Emitter } from '../../../packages/client/src/emitter.js';

interface Events {
  n: number;
}

describe('Emitter', () => {
  it('on returns an unsubscribe function', () => {
    const e = new Emitter<Events>();
    const seen: number[] = [];
    const off = e.on('n', (n) => seen.push(n));
    e.emit('n', 1);
    off();
    e.emit('n', 2);
    expect(seen).toEqual([1]);
  });

  it('once fires a single time', () => {
    const e = new Emitter<Events>();
    const seen: number[] = [];
    e.once('n', (n) => seen.push(n));
    e.emit('n', 1);
    e.emit('n', 2);
    expect(seen).toEqual([1]);
  });

  it('a handler removed during emit does not disturb the emit in progress', () => {
    const e = new Emitter<Events>();
    const seen: string[] = [];
    const b = (): void => {
      seen.push('b');
    };
    e.on('n', () => {
      seen.push('a');
      e.off('n', b);
    });
    e.on('n', b);
    e.emit('n', 1);
    e.emit('n', 2);
    expect(seen).toEqual(['a', 'b', 'a']);
  });
});
