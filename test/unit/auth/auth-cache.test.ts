/** The token → device cache in front of the store: hits, revocation, lost bus events, bounds. */
import { describe, expect, it } from 'vitest';
import { MemoryBus } from '@parley/server';
import { AuthCache, AuthService } from '../../../packages/server/src/auth/auth-service.js';
import type { PasswordHasher } from '../../../packages/server/src/auth/passwords.js';
import { hashToken } from '../../../packages/server/src/ids.js';
import type { AccountStore, DeviceRow, UserRow } from '../../../packages/server/src/store/store.js';

const user: UserRow = { id: 'u_1', username: 'ana', displayName: 'Ana', passwordHash: 'x', createdAt: 0 };

/** The account store calls AuthService makes here, with devices by token hash; `gate` holds lookups. */
class FakeAccounts {
  readonly devices = new Map<string, DeviceRow>();
  lookups = 0;
  calls = 0;
  gate: Promise<void> | null = null;
  add(token: string, id: string): void {
    this.devices.set(hashToken(token), { id, userId: user.id, name: id, createdAt: 0, lastSeenAt: 0 });
  }
  async getDevicesByTokenHashes(
    hashes: readonly string[],
  ): Promise<({ device: DeviceRow; user: UserRow } | null)[]> {
    this.calls++;
    this.lookups += hashes.length;
    const found = hashes.map((h) => this.devices.get(h));
    if (this.gate) await this.gate;
    return found.map((d) => (d ? { device: d, user } : null));
  }
  async revokeDevice(_userId: string, deviceId: string): Promise<boolean> {
    for (const [h, d] of this.devices) {
      if (d.id === deviceId) {
        this.devices.delete(h);
        return true;
      }
    }
    return false;
  }
}

const hasher: PasswordHasher = {
  hash: async (p: string) => p,
  verify: async (p: string, h: string) => p === h,
} as unknown as PasswordHasher;

function setup() {
  const store = new FakeAccounts();
  const bus = new MemoryBus();
  const auth = new AuthService(store as unknown as AccountStore, hasher, bus);
  return { store, bus, auth };
}

describe('auth cache', () => {
  it('answers a known token from memory after the first lookup, never caching an unknown one', async () => {
    const { store, auth } = setup();
    store.add('tok-a', 'd_a');
    expect(await auth.authenticate('tok-a')).toMatchObject({ deviceId: 'd_a', userId: 'u_1' });
    expect(await auth.authenticate('tok-a')).toMatchObject({ deviceId: 'd_a' });
    expect(store.lookups).toBe(1);
    expect(await auth.authenticate('nope')).toBeNull();
    expect(await auth.authenticate('nope')).toBeNull();
    expect(store.lookups).toBe(3);
  });

  it('refuses a revoked or logged-out device at once', async () => {
    const { store, auth } = setup();
    store.add('tok-a', 'd_a');
    const ctx = await auth.authenticate('tok-a');
    expect(ctx).not.toBeNull();
    await auth.revokeDevice(ctx!, 'd_a');
    expect(await auth.authenticate('tok-a')).toBeNull();
  });

  it('forgets a device revoked on another server (bus revoke), and everything on resync', async () => {
    const { store, bus, auth } = setup();
    store.add('tok-a', 'd_a');
    store.add('tok-b', 'd_b');
    await auth.authenticate('tok-a');
    await auth.authenticate('tok-b');
    // The other server changed the store and published the event.
    store.devices.delete(hashToken('tok-a'));
    bus.publish({ type: 'revoke', deviceIds: ['d_a'] });
    expect(await auth.authenticate('tok-a')).toBeNull();
    expect(store.lookups).toBe(3);
    expect(await auth.authenticate('tok-b')).not.toBeNull();
    expect(store.lookups).toBe(3);
    // Events may have been lost: the next lookup of every token goes to the store.
    store.devices.delete(hashToken('tok-b'));
    bus.publish({ type: 'resync' });
    expect(await auth.authenticate('tok-b')).toBeNull();
  });

  it('does not cache a lookup that was in flight when a revocation arrived', async () => {
    const { store, bus, auth } = setup();
    store.add('tok-a', 'd_a');
    let open!: () => void;
    store.gate = new Promise<void>((r) => (open = r));
    const pending = auth.authenticate('tok-a'); // read the device before the revoke
    await new Promise((r) => setImmediate(r)); // lookups of a turn go to the store after it
    expect(store.lookups).toBe(1);
    store.devices.delete(hashToken('tok-a'));
    bus.publish({ type: 'revoke', deviceIds: ['d_a'] });
    open();
    expect(await pending).not.toBeNull(); // answered from before the revoke, as before
    store.gate = null;
    expect(await auth.authenticate('tok-a')).toBeNull(); // but not remembered
  });

  it('looks up the tokens of one turn in one store call (a reconnect storm), each once', async () => {
    const { store, auth } = setup();
    store.add('tok-a', 'd_a');
    store.add('tok-b', 'd_b');
    const found = await Promise.all(['tok-a', 'tok-b', 'nope', 'tok-a'].map((t) => auth.authenticate(t)));
    expect(found.map((f) => f?.deviceId ?? null)).toEqual(['d_a', 'd_b', null, 'd_a']);
    expect(store.calls).toBe(1);
    expect(store.lookups).toBe(3);
  });

  it('primes the cache at login so the first connect needs no lookup', async () => {
    const store = new FakeAccounts();
    const created: string[] = [];
    const s = Object.assign(store, {
      getUserByUsername: async () => ({ ...user, passwordHash: 'password123' }),
      createDevice: async (d: DeviceRow, hash: string) => {
        created.push(hash);
        store.devices.set(hash, d);
      },
    });
    const auth = new AuthService(s as unknown as AccountStore, hasher, new MemoryBus());
    const session = await auth.login('ana', 'password123', 'phone');
    expect(created).toEqual([hashToken(session.token)]);
    expect(await auth.authenticate(session.token)).toMatchObject({ deviceId: session.device.id });
    expect(store.lookups).toBe(0);
    await auth.revokeDevice(
      { userId: user.id, deviceId: session.device.id, username: 'ana' },
      session.device.id,
    );
    expect(await auth.authenticate(session.token)).toBeNull();
  });

  it('keeps at most `max` entries (oldest out) and trusts an entry for `ttlMs` only', () => {
    const cache = new AuthCache(2, 1000);
    const ctx = (d: string) => ({ userId: 'u', deviceId: d, username: 'n' });
    cache.set('h1', ctx('d1'), cache.generation, 0);
    cache.set('h2', ctx('d2'), cache.generation, 10);
    cache.set('h3', ctx('d3'), cache.generation, 20);
    expect(cache.size).toBe(2);
    expect(cache.get('h1', 30)).toBeUndefined();
    expect(cache.get('h2', 30)?.deviceId).toBe('d2');
    expect(cache.get('h2', 1010)).toBeUndefined();
    expect(cache.get('h3', 1019)?.deviceId).toBe('d3');
    // Adding drops expired entries from the front.
    cache.set('h4', ctx('d4'), cache.generation, 5000);
    expect(cache.size).toBe(1);
    // Revoking a device also forgets its entry.
    cache.invalidateDevices(['d4']);
    expect(cache.get('h4', 5001)).toBeUndefined();
  });
});
