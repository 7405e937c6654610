/**
 * Store conformance for accounts: users, their devices, device and last-active touches, and
 * the per-user settings the other files leave out. Every adapter must pass every test here.
 */
import { describe, expect, it } from 'vitest';
import { selectedAdapters, storePerTest } from '../../helpers/store-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;

for (const adapter of selectedAdapters()) {
  describe(`store conformance, accounts: ${adapter.name}`, () => {
    const env = storePerTest(adapter);

    async function user(name = uid('u')) {
      const u = {
        id: uid('u_'),
        username: name,
        displayName: `${name} shown`,
        passwordHash: uid('hash'),
        createdAt: 1_700_000_000_000 + n,
      };
      await env.store.accounts.createUser(u);
      return u;
    }
    async function device(userId: string, at: number, tokenHash = uid('t')) {
      const d = { id: uid('d_'), userId, name: uid('dev'), createdAt: at, lastSeenAt: at };
      await env.store.accounts.createDevice(d, tokenHash);
      return { ...d, tokenHash };
    }

    it('stores a user whole: never active and push previews on until changed', async () => {
      const a = await user();
      expect(await env.store.accounts.getUserById(a.id)).toMatchObject({
        ...a,
        lastActiveAt: null,
        pushPreview: true,
      });
      expect(await env.store.accounts.getUserByUsername(a.username)).toMatchObject({
        ...a,
        pushPreview: true,
      });
      expect(await env.store.accounts.getUserByUsername(uid('nobody'))).toBeNull();
      await env.store.accounts.setPushPreview(a.id, false);
      expect((await env.store.accounts.getUserById(a.id))?.pushPreview).toBe(false);
      await env.store.accounts.setPushPreview(a.id, true);
      expect((await env.store.accounts.getUserById(a.id))?.pushPreview).toBe(true);
    });

    it('refuses a taken username and keeps the user who has it', async () => {
      // Callers lower-case usernames first: the store compares them as given.
      const a = await user();
      await expect(
        env.store.accounts.createUser({ ...a, id: uid('u_'), displayName: 'other' }),
      ).rejects.toMatchObject({
        code: 'username_taken',
      });
      expect(await env.store.accounts.getUserByUsername(a.username)).toMatchObject({
        id: a.id,
        displayName: a.displayName,
      });
    });

    it('answers several users by id, leaving unknown ids out', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      const found = await env.store.accounts.getUsersByIds([c.id, 'u_nobody', a.id]);
      expect(found.map((u) => u.id).sort()).toEqual([a.id, c.id].sort());
      expect(found.find((u) => u.id === c.id)).toMatchObject(c);
      expect(await env.store.accounts.getUsersByIds([])).toEqual([]);
      expect(await env.store.accounts.getUsersByIds(['u_nobody'])).toEqual([]);
      expect((await env.store.accounts.getUsersByIds([b.id]))[0]).toMatchObject(b);
    });

    it('renames one user only', async () => {
      const [a, b] = [await user(), await user()];
      await env.store.accounts.setDisplayName(a.id, 'Ana Smith');
      expect((await env.store.accounts.getUserById(a.id))?.displayName).toBe('Ana Smith');
      expect((await env.store.accounts.getUserByUsername(a.username))?.displayName).toBe('Ana Smith');
      expect((await env.store.accounts.getUserById(b.id))?.displayName).toBe(b.displayName);
    });

    it('lists only the user’s own live devices', async () => {
      const [a, b] = [await user(), await user()];
      const d1 = await device(a.id, 1000);
      const d2 = await device(a.id, 2000);
      const other = await device(b.id, 3000);
      const ids = async (userId: string) =>
        (await env.store.accounts.listDevices(userId)).map((d) => d.id).sort();
      expect(await ids(a.id)).toEqual([d1.id, d2.id].sort());
      expect(await env.store.accounts.listDevices(b.id)).toEqual([
        { id: other.id, userId: b.id, name: other.name, createdAt: 3000, lastSeenAt: 3000 },
      ]);
      expect(await env.store.accounts.listDevices('u_nobody')).toEqual([]);
      // Revoking another user's device is refused and changes nothing.
      expect(await env.store.accounts.revokeDevice(a.id, other.id)).toBe(false);
      expect(await ids(b.id)).toEqual([other.id]);
      expect(await env.store.accounts.revokeDevice(a.id, d1.id)).toBe(true);
      expect(await ids(a.id)).toEqual([d2.id]);
    });

    it('touches the devices given, and only those', async () => {
      const [a, b] = [await user(), await user()];
      const d1 = await device(a.id, 1000);
      const d2 = await device(a.id, 1000);
      const d3 = await device(b.id, 1000);
      await env.store.accounts.touchDevices([d1.id, d3.id, 'd_nobody'], 5000);
      const seen = async (userId: string) =>
        Object.fromEntries((await env.store.accounts.listDevices(userId)).map((d) => [d.id, d.lastSeenAt]));
      expect(await seen(a.id)).toEqual({ [d1.id]: 5000, [d2.id]: 1000 });
      expect(await seen(b.id)).toEqual({ [d3.id]: 5000 });
      const [found] = await env.store.accounts.getDevicesByTokenHashes([d1.tokenHash]);
      expect(found?.device).toMatchObject({ id: d1.id, lastSeenAt: 5000, createdAt: 1000 });
      await env.store.accounts.touchDevices([], 9000);
      expect(await seen(a.id)).toEqual({ [d1.id]: 5000, [d2.id]: 1000 });
      await env.store.accounts.touchDevices([d2.id], 6000);
      expect(await seen(a.id)).toEqual({ [d1.id]: 5000, [d2.id]: 6000 });
    });

    it('persists last-active times, keeping each user’s latest', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      await env.store.accounts.setLastActive([
        { userId: a.id, at: 5000 },
        { userId: b.id, at: 7000 },
        { userId: 'u_nobody', at: 7000 },
      ]);
      const active = async (id: string) => (await env.store.accounts.getUserById(id))?.lastActiveAt ?? null;
      expect([await active(a.id), await active(b.id), await active(c.id)]).toEqual([5000, 7000, null]);
      expect(await env.store.accounts.getUserById('u_nobody')).toBeNull();
      // An older time (a batch written late) never moves it back.
      await env.store.accounts.setLastActive([{ userId: a.id, at: 4000 }]);
      expect(await active(a.id)).toBe(5000);
      await env.store.accounts.setLastActive([
        { userId: a.id, at: 9000 },
        { userId: a.id, at: 8000 },
      ]);
      expect(await active(a.id)).toBe(9000);
      await env.store.accounts.setLastActive([]);
      expect((await env.store.accounts.getUsersByIds([a.id]))[0]?.lastActiveAt).toBe(9000);
    });
  });
}
