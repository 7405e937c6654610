/**
 * Store conformance for privacy settings and who may see a user's presence: every adapter
 * must pass every test here.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_PRIVACY } from '@parley/protocol';
import type { Store } from '@parley/server';
import { selectedAdapters } from '../../helpers/store-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;

for (const adapter of selectedAdapters()) {
  describe(`store conformance, privacy: ${adapter.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let skip: string | null = null;

    beforeEach(async (ctx) => {
      skip = await adapter.unavailable();
      if (skip) {
        if (process.env.PARLEY_REQUIRE_SERVICES) throw new Error(`${adapter.name}: ${skip}`);
        console.warn(`skipped: ${adapter.name}: ${skip}`);
        ctx.skip();
        return;
      }
      ({ store, cleanup } = await adapter.open());
    });
    afterEach(async () => {
      if (!skip) await cleanup();
    });

    async function user() {
      const name = uid('u');
      const u = {
        id: uid('u_'),
        username: name,
        displayName: name,
        passwordHash: 'h',
        createdAt: Date.now(),
      };
      await store.createUser(u);
      return u;
    }

    it('answers the default privacy settings until they are changed', async () => {
      const a = await user();
      expect(await store.getPrivacy(a.id)).toEqual({
        lastSeen: 'contacts',
        online: 'contacts',
        directMessages: 'requests',
        groupAdds: 'contacts',
      });
      expect(await store.getPrivacy('u_nobody')).toEqual(DEFAULT_PRIVACY);
    });

    it('changes only the privacy settings given, for that user only', async () => {
      const a = await user();
      const b = await user();
      expect(await store.setPrivacy(a.id, { lastSeen: 'nobody' })).toEqual({
        ...DEFAULT_PRIVACY,
        lastSeen: 'nobody',
      });
      expect(await store.setPrivacy(a.id, { online: 'everyone', groupAdds: 'everyone' })).toEqual({
        lastSeen: 'nobody',
        online: 'everyone',
        directMessages: 'requests',
        groupAdds: 'everyone',
      });
      expect(await store.setPrivacy(a.id, { directMessages: 'contacts' })).toMatchObject({
        lastSeen: 'nobody',
        directMessages: 'contacts',
      });
      expect(await store.setPrivacy(a.id, {})).toEqual(await store.getPrivacy(a.id));
      expect(await store.getPrivacy(a.id)).toEqual({
        lastSeen: 'nobody',
        online: 'everyone',
        directMessages: 'contacts',
        groupAdds: 'everyone',
      });
      expect(await store.getPrivacy(b.id)).toEqual(DEFAULT_PRIVACY);
    });

    it('answers the privacy settings of many users at once, in the order asked', async () => {
      const [a, b] = [await user(), await user()];
      await store.setPrivacy(b.id, { online: 'nobody' });
      expect(await store.getPrivacies([b.id, 'u_nobody', a.id, b.id])).toEqual([
        { ...DEFAULT_PRIVACY, online: 'nobody' },
        DEFAULT_PRIVACY,
        DEFAULT_PRIVACY,
        { ...DEFAULT_PRIVACY, online: 'nobody' },
      ]);
      expect(await store.getPrivacies([])).toEqual([]);
    });

    it('answers the accepted contacts of many users at once, sorted, requests left out', async () => {
      const now = Date.now();
      const [a, b, c, d] = [await user(), await user(), await user(), await user()];
      await store.setContactPair(a.id, 'accepted', b.id, 'accepted', now);
      await store.setContactPair(a.id, 'accepted', c.id, 'accepted', now);
      await store.setContactPair(a.id, 'outgoing', d.id, 'incoming', now);
      const sorted = (ids: string[]) => [...ids].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      expect(await store.acceptedContacts([a.id, d.id, b.id, a.id])).toEqual([
        sorted([b.id, c.id]),
        [],
        [a.id],
        sorted([b.id, c.id]),
      ]);
      await store.setContactPair(a.id, 'none', b.id, 'none', now);
      expect(await store.acceptedContacts([b.id])).toEqual([[]]);
      expect(await store.acceptedContacts([])).toEqual([]);
    });
  });
}
