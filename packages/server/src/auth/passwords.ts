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

export function scryptHasher(logN = 17): PasswordHasher {
  return {
    async hash(password) {
      const salt = randomBytes(16);
      const key = await run(password, salt, logN, 8, 1);
      return `scrypt$${logN}$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
    },
    async verify(password, stored) {
      const parts = stored.split('$');
      if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
      const [, ln, r, p, salt, key] = parts as [string, string, string, string, string, string];
      const expected = Buffer.from(key, 'base64url');
      const got = await run(password, Buffer.from(salt, 'base64url'), Number(ln), Number(r), Number(p));
      return got.length === expected.length && timingSafeEqual(got, expected);
    },
  };
}
