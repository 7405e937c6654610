/**
 * PostgreSQL accounts over one and two databases: every row on the database of its key
 * (users and devices by user id, usernames and token hashes by their own key), and index
 * rows that a crash left behind (pointing at a user or device that does not exist, or no
 * longer matches) are ignored by readers and a dangling username can be taken.
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '@parley/server';
import type { Store } from '@parley/server';
import { shardOfKey } from '@parley/server';
import { createTestDatabase, pgAvailable } from '../../helpers/services.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;

for (const databases of [1, 2]) {
  describe(`PostgreSQL accounts on ${databases} database(s)`, () => {
    let dbs: { url: string; drop(): Promise<void> }[] = [];
    let clients: pg.Client[] = [];
    let store: Store | undefined;
    let spaces = 1;

    beforeEach(async (ctx) => {
      const skip = await pgAvailable();
      if (skip) {
        if (process.env.PARLEY_REQUIRE_SERVICES) throw new Error(skip);
        console.warn(`skipped: ${skip}`);
        ctx.skip();
        return;
      }
      for (let i = 0; i < databases; i++) dbs.push(await createTestDatabase());
      store = await PostgresStore.open({ url: dbs.map((d) => d.url) });
      for (const d of dbs) {
        const c = new pg.Client({ connectionString: d.url });
        await c.connect();
        clients.push(c);
      }
      const { rows } = await (clients[0] as pg.Client).query<{ value: string }>(
        `SELECT value FROM server_values WHERE key = 'logical_shards'`,
      );
      spaces = Number(rows[0]?.value ?? 1);
    });
    afterEach(async () => {
      await store?.close();
      await Promise.all(clients.map((c) => c.end()));
      await Promise.all(dbs.map((d) => d.drop()));
      store = undefined;
      dbs = [];
      clients = [];
    });

    /** The client of the database a key's rows live on (the default contiguous shard map). */
    const on = (key: string) =>
      clients[Math.floor((shardOfKey(key, spaces) * databases) / spaces)] as pg.Client;
    const s = () => store as Store;
    const newUser = (username = uid('name')) => ({
      id: uid('u_'),
      username,
      displayName: 'Shown',
      passwordHash: 'h',
      createdAt: 1,
    });
    /** How many rows of `table` match on each database. */
    const counts = (table: string, column: string, value: string) =>
      Promise.all(
        clients.map(
          async (c) => (await c.query(`SELECT 1 FROM ${table} WHERE ${column} = $1`, [value])).rows.length,
        ),
      );
    const onlyOn = (key: string) => clients.map((c) => (c === on(key) ? 1 : 0));

    it('places each row on the database of its key', async () => {
      for (let i = 0; i < 6; i++) {
        const u = newUser();
        await s().accounts.createUser(u);
        const d = { id: uid('d_'), userId: u.id, name: 'phone', createdAt: 1, lastSeenAt: 1 };
        const hash = uid('t');
        await s().accounts.createDevice(d, hash);
        expect(await counts('users', 'id', u.id)).toEqual(onlyOn(u.id));
        expect(await counts('usernames', 'username', u.username)).toEqual(onlyOn(u.username));
        expect(await counts('devices', 'id', d.id)).toEqual(onlyOn(u.id));
        expect(await counts('device_tokens', 'token_hash', hash)).toEqual(onlyOn(hash));
        expect((await s().accounts.getDevicesByTokenHashes([hash]))[0]?.user.id).toBe(u.id);
      }
    });

    it('lets a username whose index row points at no user be taken once settled', async () => {
      const username = uid('name');
      // As a creation leaves it between its two writes (or when it crashed there).
      await on(username).query('INSERT INTO usernames (username, user_id) VALUES ($1, $2)', [
        username,
        'u_never_created',
      ]);
      expect(await s().accounts.getUserByUsername(username)).toBeNull();
      // Young, it may be a creation still writing its user.
      await expect(s().accounts.createUser(newUser(username))).rejects.toMatchObject({
        code: 'username_taken',
      });
      await on(username).query(
        `UPDATE usernames SET claimed_at = now() - interval '1 minute' WHERE username = $1`,
        [username],
      );
      const u = newUser(username);
      await s().accounts.createUser(u);
      expect(await s().accounts.getUserByUsername(username)).toMatchObject({ id: u.id });
      await expect(s().accounts.createUser(newUser(username))).rejects.toMatchObject({
        code: 'username_taken',
      });
    });

    it('ignores a username index row whose user has another name, and lets it be taken', async () => {
      const other = newUser();
      await s().accounts.createUser(other);
      const username = uid('name');
      await on(username).query(
        `INSERT INTO usernames (username, user_id, claimed_at) VALUES ($1, $2, now() - interval '1 minute')`,
        [username, other.id],
      );
      expect(await s().accounts.getUserByUsername(username)).toBeNull();
      const u = newUser(username);
      await s().accounts.createUser(u);
      expect(await s().accounts.getUserByUsername(username)).toMatchObject({ id: u.id });
      expect(await s().accounts.getUserByUsername(other.username)).toMatchObject({ id: other.id });
    });

    it('gives a username to one of several creations racing for it', async () => {
      const username = uid('name');
      const racers = Array.from({ length: 6 }, () => newUser(username));
      const results = await Promise.allSettled(racers.map((u) => s().accounts.createUser(u)));
      const won = racers.filter((_, i) => results[i]?.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of results)
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'username_taken' });
      expect(await s().accounts.getUserByUsername(username)).toMatchObject({ id: won[0]?.id });
      // No user row of a losing creation is left behind.
      expect((await counts('users', 'username', username)).reduce((a, b) => a + b)).toBe(1);
    });

    it('answers no device for a token index row without its device', async () => {
      const u = newUser();
      await s().accounts.createUser(u);
      const d = { id: uid('d_'), userId: u.id, name: 'phone', createdAt: 1, lastSeenAt: 1 };
      const hash = uid('t');
      await s().accounts.createDevice(d, hash);
      // A device that was never written, and a device that holds another token.
      const dangling = uid('t');
      const stolen = uid('t');
      await on(dangling).query(
        'INSERT INTO device_tokens (token_hash, device_id, user_id) VALUES ($1, $2, $3)',
        [dangling, uid('d_'), u.id],
      );
      await on(stolen).query(
        'INSERT INTO device_tokens (token_hash, device_id, user_id) VALUES ($1, $2, $3)',
        [stolen, d.id, u.id],
      );
      const found = await s().accounts.getDevicesByTokenHashes([dangling, hash, stolen]);
      expect(found.map((f) => f?.device.id ?? null)).toEqual([null, d.id, null]);
    });
  });
}
