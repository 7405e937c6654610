/** Password length is counted in code points at login as at signup. */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PASSWORD_LENGTH } from '@parley/protocol';
import { MemoryBus, SqliteStore } from '@parley/server';
import { AuthService } from '../../../packages/server/src/auth/auth-service.js';
import { scryptHasher } from '../../../packages/server/src/auth/passwords.js';

let store: SqliteStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

function service(): AuthService {
  store = new SqliteStore({ path: ':memory:' });
  return new AuthService(store.accounts, scryptHasher(10), new MemoryBus());
}

describe('password length at login', () => {
  it('a user who signed up with 600 emoji can log in', async () => {
    const auth = service();
    // 600 code points, 1,200 UTF-16 units: within the limit only when counted in code points.
    const password = '😀'.repeat(600);
    expect(password.length).toBeGreaterThan(MAX_PASSWORD_LENGTH);
    await auth.signup('emoji', password);
    const session = await auth.login('emoji', password, 'phone');
    expect(session.user.username).toBe('emoji');
  });

  it('a password over the limit in code points is still refused', async () => {
    const auth = service();
    await auth.signup('longpw', 'a'.repeat(MAX_PASSWORD_LENGTH));
    await expect(auth.login('longpw', 'a'.repeat(MAX_PASSWORD_LENGTH + 1))).rejects.toMatchObject({
      code: 'invalid_credentials',
    });
  });
});
