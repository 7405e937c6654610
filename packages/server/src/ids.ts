import { createHash, randomBytes, randomFillSync } from 'node:crypto';

// Crockford's base32, the alphabet of ULIDs (https://github.com/ulid/spec).
const B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

let lastTime = 0;
const lastRandom = new Uint8Array(10);

// Random bytes for ULIDs, drawn 4 KB at a time: one `randomBytes(10)` per millisecond cost
// ~2% of the main thread at 10,000 msgs/s (docs/performance.md).
const pool = Buffer.alloc(4000);
let poolAt = pool.length;
function random10(): Uint8Array {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  poolAt += 10;
  return pool.subarray(poolAt - 10, poolAt);
}

/**
 * A ULID: 48 bits of milliseconds then 80 random bits, 26 characters, lexicographically
 * time-sortable. Monotonic within this process: in the same millisecond the random part is
 * incremented, so ids sort in creation order.
 */
export function ulid(now = Date.now()): string {
  if (now <= lastTime) {
    // Same (or earlier, after a clock step back) millisecond: increment the random part.
    for (let i = 9; i >= 0; i--) {
      const v = (lastRandom[i] ?? 0) + 1;
      lastRandom[i] = v & 0xff;
      if (v <= 0xff) break;
    }
    now = lastTime;
  } else {
    lastTime = now;
    lastRandom.set(random10());
  }
  let out = '';
  let t = now;
  const time: string[] = new Array<string>(10);
  for (let i = 9; i >= 0; i--) {
    time[i] = B32[t % 32] as string;
    t = Math.floor(t / 32);
  }
  out = time.join('');
  // 80 bits -> 16 base32 characters, 5 bits at a time.
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | (lastRandom[i] ?? 0);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >> bits) & 31];
    }
  }
  return out;
}

/** A random opaque id with a type prefix (`u_`, `c_`, `d_`): 96 random bits, base64url. */
export function randomId(prefix: string): string {
  return prefix + randomBytes(12).toString('base64url');
}

/** A session token: 256 random bits, base64url (valid in a WebSocket subprotocol). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Tokens are stored only as their SHA-256 (they have 256 bits of entropy, so no salt/KDF is needed). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
