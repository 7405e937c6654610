/** Messages between the coordinator and its worker processes (child_process IPC, advanced serialization). */

export interface RpcRequest {
  id: number;
  method: string;
  params: unknown;
}

export type RpcResponse = { id: number; result: unknown } | { id: number; error: string };

/** Open `items` with at most `limit` `open` calls in flight; resolves when all settled. */
export async function openBounded<T>(
  items: readonly T[],
  limit: number,
  open: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await open(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, run));
}

/** A byte-per-seq set that grows as needed: 1 at index `seq` once seen. */
export class SeqSet {
  private bits = new Uint8Array(64);
  count = 0;
  max = 0;

  /** Mark `seq`; false when it was already marked (a duplicate). */
  add(seq: number): boolean {
    if (seq >= this.bits.length) {
      let n = this.bits.length;
      while (n <= seq) n *= 2;
      const grown = new Uint8Array(n);
      grown.set(this.bits);
      this.bits = grown;
    }
    if (this.bits[seq] === 1) return false;
    this.bits[seq] = 1;
    this.count++;
    if (seq > this.max) this.max = seq;
    return true;
  }

  has(seq: number): boolean {
    return this.bits[seq] === 1;
  }
}
