/**
 * Keys placed on a chosen database of the `postgres-2-shards` store adapter: a new deployment
 * has 64 logical shards, the first database holds 0-31 and the second 32-63. Tests use them
 * so that what they check spans both databases (on other adapters the keys are just fresh).
 */
import { shardOfKey } from '@parley/server';

let n = 0;

/** A fresh key (`prefix` + a unique tail) on database `half` (0 or 1) of a two-database store. */
export function keyOn(half: 0 | 1, prefix: string): string {
  for (;;) {
    const key = `${prefix}${Date.now().toString(36)}p${(n++).toString(36)}`;
    if (databaseOf(key) === half) return key;
  }
}

/** Which database of a two-database store holds `key`. */
export function databaseOf(key: string): 0 | 1 {
  return shardOfKey(key, 64) < 32 ? 0 : 1;
}
