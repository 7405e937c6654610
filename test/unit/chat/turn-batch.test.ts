import { describe, expect, it } from 'vitest';
import { TurnBatch } from '@parley/server/dist/chat/turn-batch.js';

describe('TurnBatch', () => {
  it('answers the keys of one turn with one lookup, each key once', async () => {
    const calls: string[][] = [];
    const batch = new TurnBatch(async (keys: string[]) => {
      calls.push(keys);
      return keys.map((k) => k.length);
    });
    const first = await Promise.all([batch.get('a'), batch.get('bbb'), batch.get('a'), batch.get('cc')]);
    expect(first).toEqual([1, 3, 1, 2]);
    expect(calls).toEqual([['a', 'bbb', 'cc']]);
    // A later turn makes its own call.
    expect(await batch.get('dddd')).toBe(4);
    expect(calls).toEqual([['a', 'bbb', 'cc'], ['dddd']]);
  });

  it('rejects every waiter of a turn whose lookup fails, and carries on after', async () => {
    let fail = true;
    const batch = new TurnBatch(async (keys: number[]) => {
      if (fail) throw new Error('store down');
      return keys.map((k) => k * 2);
    });
    const results = await Promise.allSettled([batch.get(1), batch.get(2), batch.get(1)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    fail = false;
    expect(await batch.get(21)).toBe(42);
  });
});
