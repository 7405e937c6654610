import { scrypt, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Password hashing with scrypt. OWASP's Password Storage Cheat Sheet recommends N=2^17, r=8,
 * p=1 for scrypt; that is the default (`logN` 17). The parameters are stored with each hash,
 * so changing the option never breaks existing passwords.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
}

const KEY_LEN = 32;

function run(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFKC'),
      salt,
      KEY_LEN,
      { N, r, p, maxmem: 256 * N * r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

/**
 * Runs at most `limit` tasks at once; the others wait in arrival order. scrypt runs on
 * libuv's thread pool (4 threads by default), which file system and DNS work share: a flood
 * of logins must not take all of it, nor every core.
 */
export class WorkQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Tasks started and not yet finished. */
  get active(): number {
    return this.running;
  }

  /** Tasks waiting for a free slot. */
  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.limit > 0 && this.running >= this.limit) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, so `running` never dips and refills.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/**
 * @param logN scrypt cost as log2(N). Default 17.
 * @param concurrency hashes computed at once; more wait their turn. 0: no limit. Default 2.
 */
export function scryptHasher(logN = 17, concurrency = 2): PasswordHasher {
  const queue = new WorkQueue(concurrency);
  return {
    async hash(password) {
      const salt = randomBytes(16);
      const key = await queue.run(() => run(password, salt, logN, 8, 1));
      return `scrypt$${logN}$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
    },
    async verify(password, stored) {
      const parts = stored.split('$');
      if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
      const [, ln, r, p, salt, key] = parts as [string, string, string, string, string, string];
      const expected = Buffer.from(key, 'base64url');
      const got = await queue.run(() =>
        run(password, Buffer.from(salt, 'base64url'), Number(ln), Number(r), Number(p)),
      );
      return got.length === expected.length && timingSafeEqual(got, expected);
    },
  };
}
