/**
 * Store conformance for the store's lifecycle and the group calls the other files use only
 * in passing: renaming a group, answering /readyz's ping, and closing. Every adapter must
 * pass every test here.
 */
import { describe, expect, it } from 'vitest';
import { selectedAdapters, storePerTest, newStoreUser } from '../../helpers/store-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;

for (const adapter of selectedAdapters()) {
  describe(`store conformance, lifecycle: ${adapter.name}`, () => {
    const env = storePerTest(adapter);

    const user = () => newStoreUser(env.store);

    it('renames a group for every member, and only that group', async () => {
      const [a, b] = [await user(), await user()];
      const g = await env.store.conversations.createGroup(uid('c_'), 'Trip', a.id, [b.id], 1000);
      const other = await env.store.conversations.createGroup(uid('c_'), 'Work', a.id, [b.id], 1000);
      await env.store.conversations.renameGroup(g.id, 'Trip 2027');
      expect(await env.store.conversations.getConversation(g.id)).toMatchObject({
        id: g.id,
        kind: 'group',
        name: 'Trip 2027',
      });
      expect((await env.store.conversations.getConversation(other.id))?.name).toBe('Work');
      for (const u of [a, b]) {
        expect((await env.store.conversations.getConversationSummary(g.id, u.id))?.name).toBe('Trip 2027');
        const names = (await env.store.conversations.listConversations(u.id, 10)).map((c) => c.name).sort();
        expect(names).toEqual(['Trip 2027', 'Work']);
      }
      // A rename is not activity: the group keeps its place in lists.
      expect(await env.store.conversations.getConversation(g.id)).toMatchObject({
        lastActivityAt: 1000,
        lastSeq: 0,
      });
    });

    it('answers a ping while open', async () => {
      await expect(env.store.ping()).resolves.toBeUndefined();
      // A failure is only set once the store failed for good.
      expect(env.store.failure).toBeUndefined();
    });

    it('refuses calls once closed, and closes only once', async () => {
      const a = await user();
      await env.store.close();
      await expect(env.store.ping()).rejects.toThrow();
      await expect(env.store.accounts.getUserById(a.id)).rejects.toThrow();
      // Closing again (the fixture closes after each test too) is no error.
      await expect(env.store.close()).resolves.toBeUndefined();
    });
  });
}
