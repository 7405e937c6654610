import { describe, expect, it } from 'vitest';
import { TurnBatch } from '../../packages/server/src/turn-batch.js';

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

  it('sends what waits behind full flights as one call when a flight lands (group commit)', async () => {
    const calls: { keys: string[]; answer: () => void }[] = [];
    const batch = new TurnBatch((keys: string[]) => {
      return new Promise<string[]>((resolve) => {
        calls.push({ keys, answer: () => resolve(keys.map((k) => k.toUpperCase())) });
      });
    }, 2);
    const turn = () => new Promise((r) => setImmediate(r));
    const a = batch.get('a');
    await turn();
    const b = batch.get('b');
    await turn();
    // Two calls out: the next turns' keys wait, together.
    const rest = ['c', 'd', 'e'].map((k) => batch.get(k));
    await turn();
    const f = batch.get('f');
    await turn();
    expect(calls.map((c) => c.keys)).toEqual([['a'], ['b']]);
    calls[1]?.answer();
    await turn();
    await turn();
    expect(calls.map((c) => c.keys)).toEqual([['a'], ['b'], ['c', 'd', 'e', 'f']]);
    calls[0]?.answer();
    calls[2]?.answer();
    expect(await Promise.all([a, b, ...rest, f])).toEqual(['A', 'B', 'C', 'D', 'E', 'F']);
  });

  it('answers a lookup that throws at once as a failed call, and goes on', async () => {
    let n = 0;
    const batch = new TurnBatch((keys: number[]) => {
      if (n++ === 0) throw new Error('sync failure');
      return Promise.resolve(keys);
    }, 1);
    await expect(batch.get(1)).rejects.toThrow('sync failure');
    expect(await batch.get(2)).toBe(2);
  });
});
