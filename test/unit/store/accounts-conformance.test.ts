/**
 * Store conformance for accounts: users, their devices, device and last-active touches, and
 * the per-user settings the other files leave out. Every adapter must pass every test here.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRIVACY } from '@parley/protocol';
import { keyOn } from '../../helpers/placement.js';
import { selectedAdapters, storePerTest } from '../../helpers/store-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;
const keyIn = (p: string, low: boolean) => keyOn(low ? 0 : 1, p);
let turn = 0;
/** Keys on alternate halves, call after call. */
const spread = (p: string) => keyIn(p, turn++ % 2 === 0);

for (const adapter of selectedAdapters()) {
  describe(`store conformance, accounts: ${adapter.name}`, () => {
    const env = storePerTest(adapter);

    async function user(name = uid('u'), id = spread('u_')) {
      const u = {
        id,
        username: name,
        displayName: `${name} shown`,
        passwordHash: uid('hash'),
        createdAt: 1_700_000_000_000 + n,
      };
      await env.store.accounts.createUser(u);
      return u;
    }
    async function device(userId: string, at: number, tokenHash = spread('t')) {
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

    it('refuses a username taken whichever database its users live on', async () => {
      for (const low of [true, false]) {
        const a = await user(uid('u'), keyIn('u_', low));
        for (const other of [keyIn('u_', low), keyIn('u_', !low)])
          await expect(
            env.store.accounts.createUser({ ...a, id: other, displayName: 'other' }),
          ).rejects.toMatchObject({ code: 'username_taken' });
        expect(await env.store.accounts.getUserByUsername(a.username)).toMatchObject({
          id: a.id,
          displayName: a.displayName,
        });
      }
    });

    it('answers many users at once in the order asked, from every database', async () => {
      const users: Awaited<ReturnType<typeof user>>[] = [];
      for (let i = 0; i < 12; i++) users.push(await user());
      const ask = [...users].reverse().map((u) => u.id);
      ask.splice(3, 0, 'u_nobody');
      ask.push(users[0]?.id ?? '');
      const found = await env.store.accounts.getUsersByIds(ask);
      expect(found.map((u) => u.id)).toEqual(ask.filter((id) => id !== 'u_nobody'));
      for (const u of users) expect(found.find((f) => f.id === u.id)).toMatchObject(u);
      await env.store.accounts.setPrivacy(users[1]?.id ?? '', { online: 'nobody' });
      await env.store.accounts.setPrivacy(users[2]?.id ?? '', { lastSeen: 'everyone' });
      const privacies = await env.store.accounts.getPrivacies(ask);
      expect(privacies).toHaveLength(ask.length);
      ask.forEach((id, i) =>
        expect(privacies[i]).toEqual({
          ...DEFAULT_PRIVACY,
          ...(id === users[1]?.id ? { online: 'nobody' } : {}),
          ...(id === users[2]?.id ? { lastSeen: 'everyone' } : {}),
        }),
      );
    });

    it('finds many devices by token at once, in the order given, from every database', async () => {
      const devices: {
        user: Awaited<ReturnType<typeof user>>;
        device: Awaited<ReturnType<typeof device>>;
      }[] = [];
      for (let i = 0; i < 6; i++) {
        const u = await user();
        devices.push({ user: u, device: await device(u.id, 1000 + i) });
        devices.push({ user: u, device: await device(u.id, 2000 + i) });
      }
      const [first, second] = devices;
      if (!first || !second) throw new Error('no devices');
      expect(await env.store.accounts.revokeDevice(second.user.id, second.device.id)).toBe(true);
      const ask = devices.map((d) => d.device.tokenHash).reverse();
      ask.splice(2, 0, 't_nobody');
      ask.push(first.device.tokenHash);
      const found = await env.store.accounts.getDevicesByTokenHashes(ask);
      const expected = ask.map((h) => {
        const d = devices.find((x) => x.device.tokenHash === h);
        return d && d !== second ? [d.device.id, d.user.id, d.user.username] : null;
      });
      expect(found.map((f) => (f ? [f.device.id, f.user.id, f.user.username] : null))).toEqual(expected);
      expect(found.at(-1)).toMatchObject({
        device: { id: first.device.id, userId: first.user.id, createdAt: 1000, lastSeenAt: 1000 },
        user: { id: first.user.id, displayName: first.user.displayName },
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
