/** Options given as `<ENV>_FILE`: the value is read from the file (secrets kept out of `ps` and the environment). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../../packages/server/src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-env-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function secret(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

describe('readConfig with *_FILE env vars', () => {
  it('reads secrets from files, dropping one trailing newline', () => {
    const config = readConfig([], {
      PARLEY_VAPID_PRIVATE_KEY_FILE: secret('vapid', 'private-key-xyz\n'),
      PARLEY_DB_FILE: secret('db', 'postgres://parley:s3cret@db/parley\n'),
      PARLEY_REDIS_FILE: secret('redis', 'redis://:pw@cache:6379'),
      PARLEY_APNS_KEY_FILE: secret('apns', '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n'),
    });
    expect(config).toMatchObject({
      vapidPrivateKey: 'private-key-xyz',
      db: 'postgres://parley:s3cret@db/parley',
      redis: 'redis://:pw@cache:6379',
      apnsKey: '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----',
    });
  });

  it('reads DATABASE_URL_FILE and REDIS_URL_FILE like their plain variants', () => {
    const config = readConfig([], {
      DATABASE_URL_FILE: secret('dburl', 'postgres://u:p@h/d\r\n'),
      REDIS_URL_FILE: secret('redisurl', 'redis://r'),
    });
    expect(config).toMatchObject({ db: 'postgres://u:p@h/d', redis: 'redis://r' });
  });

  it('types numbers read from files, and a flag still wins', () => {
    const config = readConfig(['--redis', 'redis://flag'], {
      PARLEY_HEARTBEAT_MS_FILE: secret('hb', '7000\n'),
      PARLEY_REDIS_FILE: secret('redis2', 'redis://file'),
    });
    expect(config).toMatchObject({ heartbeatMs: 7000, redis: 'redis://flag' });
  });

  it('refuses a variable given both ways, and names an unreadable file', () => {
    expect(() =>
      readConfig([], { PARLEY_DB: 'postgres://a', PARLEY_DB_FILE: secret('both', 'postgres://b') }),
    ).toThrow('set PARLEY_DB or PARLEY_DB_FILE, not both');
    expect(() => readConfig([], { PARLEY_DB_FILE: join(dir, 'missing') })).toThrow(
      /PARLEY_DB_FILE: cannot read .*missing \(ENOENT\)/,
    );
  });

  it('an empty *_FILE is ignored', () => {
    expect(readConfig([], { PARLEY_DB_FILE: '', PARLEY_DB: 'postgres://plain' })).toMatchObject({
      db: 'postgres://plain',
    });
  });
});
