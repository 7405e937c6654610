/**
 * The placement hash of sharded stores: FNV-1a (32 bits) of a key's UTF-8 bytes. Placement
 * must never change for a stored key, so this function is frozen: a new hash would need a
 * migration that moves every row.
 */
const encoder = new TextEncoder();

export function placementHash(key: string): number {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(key)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The logical shard of a key among `shards`. */
export function shardOfKey(key: string, shards: number): number {
  return shards === 1 ? 0 : placementHash(key) % shards;
}
