/**
 * Store conformance for privacy settings and who may see a user's presence: every adapter
 * must pass every test here.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRIVACY } from '@parley/protocol';
import { selectedAdapters, storePerTest, newStoreUser } from '../../helpers/store-adapters.js';

for (const adapter of selectedAdapters()) {
  describe(`store conformance, privacy: ${adapter.name}`, () => {
    const env = storePerTest(adapter);

    const user = () => newStoreUser(env.store);

    it('answers the default privacy settings until they are changed', async () => {
      const a = await user();
      expect(await env.store.accounts.getPrivacy(a.id)).toEqual({
        lastSeen: 'contacts',
        online: 'contacts',
        directMessages: 'requests',
        groupAdds: 'contacts',
      });
      expect(await env.store.accounts.getPrivacy('u_nobody')).toEqual(DEFAULT_PRIVACY);
    });

    it('changes only the privacy settings given, for that user only', async () => {
      const a = await user();
      const b = await user();
      expect(await env.store.accounts.setPrivacy(a.id, { lastSeen: 'nobody' })).toEqual({
        ...DEFAULT_PRIVACY,
        lastSeen: 'nobody',
      });
      expect(
        await env.store.accounts.setPrivacy(a.id, { online: 'everyone', groupAdds: 'everyone' }),
      ).toEqual({
        lastSeen: 'nobody',
        online: 'everyone',
        directMessages: 'requests',
        groupAdds: 'everyone',
      });
      expect(await env.store.accounts.setPrivacy(a.id, { directMessages: 'contacts' })).toMatchObject({
        lastSeen: 'nobody',
        directMessages: 'contacts',
      });
      expect(await env.store.accounts.setPrivacy(a.id, {})).toEqual(
        await env.store.accounts.getPrivacy(a.id),
      );
      expect(await env.store.accounts.getPrivacy(a.id)).toEqual({
        lastSeen: 'nobody',
        online: 'everyone',
        directMessages: 'contacts',
        groupAdds: 'everyone',
      });
      expect(await env.store.accounts.getPrivacy(b.id)).toEqual(DEFAULT_PRIVACY);
    });

    it('answers the privacy settings of many users at once, in the order asked', async () => {
      const [a, b] = [await user(), await user()];
      await env.store.accounts.setPrivacy(b.id, { online: 'nobody' });
      expect(await env.store.accounts.getPrivacies([b.id, 'u_nobody', a.id, b.id])).toEqual([
        { ...DEFAULT_PRIVACY, online: 'nobody' },
        DEFAULT_PRIVACY,
        DEFAULT_PRIVACY,
        { ...DEFAULT_PRIVACY, online: 'nobody' },
      ]);
      expect(await env.store.accounts.getPrivacies([])).toEqual([]);
    });

    it('answers the accepted contacts of many users at once, sorted, requests left out', async () => {
      const now = Date.now();
      const [a, b, c, d] = [await user(), await user(), await user(), await user()];
      await env.store.social.setContactPair(a.id, 'accepted', b.id, 'accepted', now);
      await env.store.social.setContactPair(a.id, 'accepted', c.id, 'accepted', now);
      await env.store.social.setContactPair(a.id, 'outgoing', d.id, 'incoming', now);
      const sorted = (ids: string[]) => [...ids].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      expect(await env.store.social.acceptedContacts([a.id, d.id, b.id, a.id])).toEqual([
        sorted([b.id, c.id]),
        [],
        [a.id],
        sorted([b.id, c.id]),
      ]);
      await env.store.social.setContactPair(a.id, 'none', b.id, 'none', now);
      expect(await env.store.social.acceptedContacts([b.id])).toEqual([[]]);
      expect(await env.store.social.acceptedContacts([])).toEqual([]);
    });
  });
}
