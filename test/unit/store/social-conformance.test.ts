/**
 * Store conformance for the social graph: contacts (accepted or pending, each side its own
 * row), declined requests, blocks either way, presence audiences, who sees whose presence,
 * and who shows whose name. Every adapter must pass every test here.
 */
import { describe, expect, it } from 'vitest';
import { selectedAdapters, storePerTest } from '../../helpers/store-adapters.js';
import { keyOn } from '../../helpers/placement.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;
const sorted = (ids: readonly string[]) => [...ids].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
const idOn = (half: 0 | 1) => keyOn(half, 'u_');

for (const adapter of selectedAdapters()) {
  describe(`store conformance, contacts and blocks: ${adapter.name}`, () => {
    const env = storePerTest(adapter);

    async function user(half?: 0 | 1) {
      const name = uid('u');
      const u = {
        id: half === undefined ? uid('u_') : idOn(half),
        username: name,
        displayName: name,
        passwordHash: 'h',
        createdAt: Date.now(),
      };
      await env.store.accounts.createUser(u);
      return u;
    }
    async function append(conversationId: string, senderId: string) {
      const clientId = uid('k');
      const [r] = await env.store.messages.appendMessages([
        { id: uid('m'), conversationId, senderId, clientId, text: clientId, createdAt: Date.now() },
      ]);
      if (!r) throw new Error('no append result');
      return r.ok ? 'ok' : r.code;
    }

    // ---- contacts ----

    it('sets both sides of a contact relation at once, each side its own state', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      expect(await env.store.social.getContactState(a.id, b.id)).toBe('none');
      expect(await env.store.social.getContactState(a.id, 'u_nobody')).toBe('none');
      await env.store.social.setContactPair(a.id, 'outgoing', b.id, 'incoming', 1000);
      expect(await env.store.social.getContactState(a.id, b.id)).toBe('outgoing');
      expect(await env.store.social.getContactState(b.id, a.id)).toBe('incoming');
      expect(await env.store.social.getContactState(a.id, c.id)).toBe('none');
      expect(await env.store.social.listContacts(a.id)).toEqual([
        { userId: b.id, state: 'outgoing', since: 1000 },
      ]);
      expect(await env.store.social.listContacts(b.id)).toEqual([
        { userId: a.id, state: 'incoming', since: 1000 },
      ]);

      // Accepting replaces both rows, with the new time.
      await env.store.social.setContactPair(b.id, 'accepted', a.id, 'accepted', 2000);
      expect(await env.store.social.listContacts(a.id)).toEqual([
        { userId: b.id, state: 'accepted', since: 2000 },
      ]);
      expect(await env.store.social.listContacts(b.id)).toEqual([
        { userId: a.id, state: 'accepted', since: 2000 },
      ]);
      expect(await env.store.social.listContacts(c.id)).toEqual([]);
      expect(await env.store.social.listContacts('u_nobody')).toEqual([]);
    });

    it('removes one side of a relation with none, and both with none twice', async () => {
      const [a, b] = [await user(), await user()];
      await env.store.social.setContactPair(a.id, 'accepted', b.id, 'accepted', 1000);
      await env.store.social.setContactPair(a.id, 'none', b.id, 'accepted', 1500);
      expect(await env.store.social.getContactState(a.id, b.id)).toBe('none');
      expect(await env.store.social.getContactState(b.id, a.id)).toBe('accepted');
      expect(await env.store.social.listContacts(a.id)).toEqual([]);
      await env.store.social.setContactPair(a.id, 'none', b.id, 'none', 2000);
      expect(await env.store.social.getContactState(b.id, a.id)).toBe('none');
      expect(await env.store.social.listContacts(b.id)).toEqual([]);
      // Removing what is not there is no error.
      await env.store.social.setContactPair(a.id, 'none', b.id, 'none', 3000);
      expect(await env.store.social.listContacts(a.id)).toEqual([]);
    });

    it('lists every contact of a user with its own state and time', async () => {
      const [a, b, c, d] = [await user(), await user(), await user(), await user()];
      await env.store.social.setContactPair(a.id, 'accepted', b.id, 'accepted', 1000);
      await env.store.social.setContactPair(c.id, 'outgoing', a.id, 'incoming', 2000);
      await env.store.social.setContactPair(a.id, 'outgoing', d.id, 'incoming', 3000);
      const byUser = <T extends { userId: string }>(rows: T[]) =>
        [...rows].sort((x, y) => (x.userId < y.userId ? -1 : 1));
      expect(byUser(await env.store.social.listContacts(a.id))).toEqual(
        byUser([
          { userId: b.id, state: 'accepted', since: 1000 },
          { userId: c.id, state: 'incoming', since: 2000 },
          { userId: d.id, state: 'outgoing', since: 3000 },
        ]),
      );
      expect(await env.store.social.acceptedContacts([a.id, c.id, d.id])).toEqual([[b.id], [], []]);
    });

    it('remembers declines per pair and one way, the latest time winning', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      await env.store.social.recordDecline(a.id, b.id, 5000);
      await env.store.social.recordDecline(a.id, c.id, 1000);
      // A later decline replaces the time, whatever it is.
      await env.store.social.recordDecline(a.id, c.id, 3000);
      expect(await env.store.social.declinedAt(a.id, b.id)).toBe(5000);
      expect(await env.store.social.declinedAt(a.id, c.id)).toBe(3000);
      expect(await env.store.social.declinedAt(b.id, a.id)).toBeNull();
      expect(await env.store.social.declinedAt(c.id, b.id)).toBeNull();
      expect(await env.store.social.declinedAt('u_nobody', a.id)).toBeNull();
      // A decline is not a contact row.
      expect(await env.store.social.getContactState(a.id, b.id)).toBe('none');
    });

    // ---- blocks ----

    it('blocks idempotently, and tells blocks either way apart from my own list', async () => {
      const [a, b, c, d] = [await user(), await user(), await user(), await user()];
      await env.store.social.block(a.id, b.id, 1000);
      await env.store.social.block(a.id, b.id, 2000);
      await env.store.social.block(c.id, a.id, 1500);
      expect(await env.store.social.listBlocked(a.id)).toEqual([b.id]);
      expect(await env.store.social.listBlocked(c.id)).toEqual([a.id]);
      expect(await env.store.social.listBlocked(b.id)).toEqual([]);
      expect(await env.store.social.listBlocked('u_nobody')).toEqual([]);

      expect(await env.store.social.isBlockedEither(a.id, b.id)).toBe(true);
      expect(await env.store.social.isBlockedEither(b.id, a.id)).toBe(true);
      expect(await env.store.social.isBlockedEither(a.id, c.id)).toBe(true);
      expect(await env.store.social.isBlockedEither(c.id, a.id)).toBe(true);
      expect(await env.store.social.isBlockedEither(b.id, c.id)).toBe(false);
      expect(await env.store.social.isBlockedEither(a.id, d.id)).toBe(false);
      expect(await env.store.social.isBlockedEither(a.id, 'u_nobody')).toBe(false);

      expect(sorted(await env.store.social.blockedAmong(a.id, [b.id, c.id, d.id, 'u_nobody']))).toEqual(
        sorted([b.id, c.id]),
      );
      expect(await env.store.social.blockedAmong(b.id, [a.id, c.id, d.id])).toEqual([a.id]);
      expect(await env.store.social.blockedAmong(d.id, [a.id, b.id, c.id])).toEqual([]);
      expect(await env.store.social.blockedAmong(a.id, [])).toEqual([]);
    });

    it('unblocks only my own block: the other way stays', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      await env.store.social.block(a.id, b.id, 1000);
      await env.store.social.block(b.id, a.id, 1000);
      await env.store.social.block(a.id, c.id, 1000);
      await env.store.social.unblock(a.id, b.id);
      expect(await env.store.social.listBlocked(a.id)).toEqual([c.id]);
      expect(await env.store.social.listBlocked(b.id)).toEqual([a.id]);
      expect(await env.store.social.isBlockedEither(a.id, b.id)).toBe(true);
      // Unblocking someone I never blocked (who blocked me) changes nothing.
      await env.store.social.unblock(a.id, b.id);
      expect(await env.store.social.isBlockedEither(a.id, b.id)).toBe(true);
      await env.store.social.unblock(b.id, a.id);
      expect(await env.store.social.isBlockedEither(a.id, b.id)).toBe(false);
      expect(await env.store.social.blockedAmong(a.id, [b.id, c.id])).toEqual([c.id]);
      expect(await env.store.social.listBlocked(b.id)).toEqual([]);
    });

    it('refuses appends to a direct conversation while either user blocks the other', async () => {
      const [a, b, x] = [await user(), await user(), await user()];
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [b.id, x.id], Date.now());
      expect(await append(c.id, a.id)).toBe('ok');
      await env.store.social.block(a.id, b.id, Date.now());
      expect(await append(c.id, b.id)).toBe('blocked');
      expect(await append(c.id, a.id)).toBe('blocked');
      // Groups they share are not blocked.
      expect(await append(g.id, b.id)).toBe('ok');
      await env.store.social.block(b.id, a.id, Date.now());
      await env.store.social.unblock(a.id, b.id);
      expect(await append(c.id, a.id)).toBe('blocked');
      await env.store.social.unblock(b.id, a.id);
      expect(await append(c.id, a.id)).toBe('ok');
      expect((await env.store.conversations.getConversation(c.id))?.lastSeq).toBe(2);
    });

    it('refuses appends to a direct conversation opened after a block', async () => {
      const [a, b] = [await user(), await user()];
      await env.store.social.block(b.id, a.id, Date.now());
      const c = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, Date.now());
      expect(await append(c.id, a.id)).toBe('blocked');
      await env.store.social.unblock(b.id, a.id);
      expect(await append(c.id, a.id)).toBe('ok');
    });

    // ---- audiences, visibility and names ----

    it('leaves blocked users out of presence audiences either way, until unblocked', async () => {
      const [a, b, c, d] = [await user(), await user(), await user(), await user()];
      const now = Date.now();
      await env.store.social.setContactPair(a.id, 'accepted', b.id, 'accepted', now);
      await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, c.id, now);
      await env.store.social.setContactPair(a.id, 'incoming', d.id, 'outgoing', now);
      expect(await env.store.social.presenceAudiences([a.id, b.id, c.id, d.id])).toEqual([
        sorted([b.id, c.id]),
        [a.id],
        [a.id],
        [],
      ]);
      await env.store.social.block(a.id, b.id, now);
      await env.store.social.block(c.id, a.id, now);
      expect(await env.store.social.presenceAudiences([a.id, b.id, c.id])).toEqual([[], [], []]);
      await env.store.social.unblock(a.id, b.id);
      expect(await env.store.social.presenceAudiences([a.id, b.id])).toEqual([[b.id], [a.id]]);
      expect(await env.store.social.presenceAudiences(['u_nobody'])).toEqual([[]]);
    });

    it('shows presence to contacts and anyone sharing a conversation, minus blocks', async () => {
      const [v, contact, partner, groupmate, pending, stranger, blocker] = [
        await user(),
        await user(),
        await user(),
        await user(),
        await user(),
        await user(),
        await user(),
      ];
      const now = Date.now();
      await env.store.social.setContactPair(v.id, 'accepted', contact.id, 'accepted', now);
      await env.store.conversations.getOrCreateDirect(uid('c_'), v.id, partner.id, now);
      await env.store.conversations.createGroup(uid('c_'), 'g', groupmate.id, [v.id, blocker.id], now);
      await env.store.social.setContactPair(v.id, 'outgoing', pending.id, 'incoming', now);
      await env.store.social.block(blocker.id, v.id, now);
      const others = [contact.id, partner.id, groupmate.id, pending.id, stranger.id, blocker.id, 'u_nobody'];
      expect(sorted(await env.store.social.visibleTo(v.id, others))).toEqual(
        sorted([contact.id, partner.id, groupmate.id]),
      );
      // The same rule seen from the other side.
      expect(await env.store.social.visibleTo(groupmate.id, [v.id])).toEqual([v.id]);
      expect(await env.store.social.visibleTo(blocker.id, [v.id])).toEqual([]);
      expect(await env.store.social.visibleTo(pending.id, [v.id])).toEqual([]);
      // My own block hides too.
      await env.store.social.block(v.id, contact.id, now);
      expect(await env.store.social.visibleTo(v.id, [contact.id])).toEqual([]);
      expect(await env.store.social.visibleTo(contact.id, [v.id])).toEqual([]);
      await env.store.social.unblock(v.id, contact.id);
      expect(await env.store.social.visibleTo(v.id, [contact.id])).toEqual([contact.id]);
      expect(await env.store.social.visibleTo(v.id, [])).toEqual([]);
    });

    it('stops showing presence once the shared conversation is left', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      const g = await env.store.conversations.createGroup(uid('c_'), 'g', a.id, [b.id, c.id], Date.now());
      expect(await env.store.social.visibleTo(a.id, [b.id])).toEqual([b.id]);
      await env.store.conversations.removeMember(g.id, b.id, { by: null });
      expect(await env.store.social.visibleTo(a.id, [b.id, c.id])).toEqual([c.id]);
      expect(await env.store.social.visibleTo(b.id, [a.id, c.id])).toEqual([]);
    });

    it('names contacts either way and co-members, the user included, sorted', async () => {
      const [a, asker, asked, friend, mate, stranger] = [
        await user(),
        await user(),
        await user(),
        await user(),
        await user(),
        await user(),
      ];
      const now = Date.now();
      expect(await env.store.social.relatedUsers(a.id)).toEqual([a.id]);
      await env.store.social.setContactPair(asker.id, 'outgoing', a.id, 'incoming', now);
      await env.store.social.setContactPair(a.id, 'outgoing', asked.id, 'incoming', now);
      await env.store.social.setContactPair(a.id, 'accepted', friend.id, 'accepted', now);
      await env.store.conversations.createGroup(uid('c_'), 'g', mate.id, [a.id], now);
      expect(await env.store.social.relatedUsers(a.id)).toEqual(
        sorted([a.id, asker.id, asked.id, friend.id, mate.id]),
      );
      expect(await env.store.social.relatedUsers(asker.id)).toEqual(sorted([asker.id, a.id]));
      expect(await env.store.social.relatedUsers(stranger.id)).toEqual([stranger.id]);
      // A block is no relation of its own.
      await env.store.social.block(stranger.id, a.id, now);
      expect(await env.store.social.relatedUsers(stranger.id)).toEqual([stranger.id]);
    });

    it('answers accepted contacts in the order asked, a user asked twice answered twice', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      await env.store.social.setContactPair(b.id, 'accepted', a.id, 'accepted', 1000);
      await env.store.social.setContactPair(c.id, 'accepted', a.id, 'accepted', 1000);
      await env.store.social.setContactPair(b.id, 'incoming', c.id, 'outgoing', 1000);
      expect(await env.store.social.acceptedContacts([c.id, 'u_nobody', a.id, c.id])).toEqual([
        [a.id],
        [],
        sorted([b.id, c.id]),
        [a.id],
      ]);
    });

    // ---- across databases (each user's rows on their own database when sharded) ----

    it('keeps both sides of a relation and declines of users on different databases', async () => {
      const [a, b, c] = [await user(0), await user(1), await user(1)];
      await env.store.social.setContactPair(a.id, 'outgoing', b.id, 'incoming', 1000);
      await env.store.social.setContactPair(c.id, 'outgoing', a.id, 'incoming', 1500);
      expect(await env.store.social.getContactState(a.id, b.id)).toBe('outgoing');
      expect(await env.store.social.getContactState(b.id, a.id)).toBe('incoming');
      expect(await env.store.social.listContacts(a.id)).toEqual([
        { userId: b.id, state: 'outgoing', since: 1000 },
        { userId: c.id, state: 'incoming', since: 1500 },
      ]);
      await env.store.social.setContactPair(b.id, 'accepted', a.id, 'accepted', 2000);
      await env.store.social.setContactPair(a.id, 'none', c.id, 'none', 2500);
      await env.store.social.recordDecline(a.id, c.id, 2500);
      expect(await env.store.social.listContacts(a.id)).toEqual([
        { userId: b.id, state: 'accepted', since: 2000 },
      ]);
      expect(await env.store.social.listContacts(b.id)).toEqual([
        { userId: a.id, state: 'accepted', since: 2000 },
      ]);
      expect(await env.store.social.listContacts(c.id)).toEqual([]);
      expect(await env.store.social.declinedAt(a.id, c.id)).toBe(2500);
      expect(await env.store.social.declinedAt(c.id, a.id)).toBeNull();
      expect(await env.store.social.acceptedContacts([b.id, c.id, a.id])).toEqual([[a.id], [], [b.id]]);
      expect(await env.store.social.relatedUsers(b.id)).toEqual(sorted([a.id, b.id]));
    });

    it('sees blocks either way between users on different databases', async () => {
      const [a, b, c, d] = [await user(0), await user(1), await user(1), await user(0)];
      await env.store.social.block(a.id, b.id, 1000);
      await env.store.social.block(c.id, a.id, 1000);
      for (const [x, y] of [
        [a.id, b.id],
        [b.id, a.id],
        [a.id, c.id],
        [c.id, a.id],
      ] as const)
        expect(await env.store.social.isBlockedEither(x, y)).toBe(true);
      expect(await env.store.social.isBlockedEither(b.id, c.id)).toBe(false);
      expect(await env.store.social.isBlockedEither(d.id, a.id)).toBe(false);
      expect(await env.store.social.blockedAmong(a.id, [d.id, c.id, b.id, c.id])).toEqual([c.id, b.id, c.id]);
      expect(await env.store.social.blockedAmong(b.id, [c.id, a.id, d.id])).toEqual([a.id]);
      expect(await env.store.social.blockedAmong(c.id, [a.id, b.id, d.id])).toEqual([a.id]);
      expect(await env.store.social.listBlocked(a.id)).toEqual([b.id]);
      expect(await env.store.social.listBlocked(c.id)).toEqual([a.id]);
      await env.store.social.unblock(a.id, b.id);
      await env.store.social.unblock(a.id, c.id); // c's block of a is not a's to lift
      expect(await env.store.social.isBlockedEither(b.id, a.id)).toBe(false);
      expect(await env.store.social.blockedAmong(a.id, [b.id, c.id])).toEqual([c.id]);
    });

    it('answers presence audiences and visibility from contacts on both databases', async () => {
      const [a, b, c, d, e, f] = [
        await user(0),
        await user(0),
        await user(1),
        await user(1),
        await user(0),
        await user(1),
      ];
      const now = Date.now();
      for (const [x, y] of [
        [a, b],
        [a, c],
        [d, a],
        [d, e],
        [a, f],
      ] as const)
        await env.store.social.setContactPair(x.id, 'accepted', y.id, 'accepted', now);
      await env.store.social.setContactPair(e.id, 'outgoing', c.id, 'incoming', now);
      // f, on the other database, blocks a: neither is told of the other any more.
      await env.store.social.block(f.id, a.id, now);
      expect(await env.store.social.presenceAudiences([a.id, d.id, f.id, c.id, e.id, a.id])).toEqual([
        sorted([b.id, c.id, d.id]),
        sorted([a.id, e.id]),
        [],
        [a.id],
        [d.id],
        sorted([b.id, c.id, d.id]),
      ]);
      expect(await env.store.social.acceptedContacts([a.id, f.id])).toEqual([
        sorted([b.id, c.id, d.id, f.id]),
        [a.id],
      ]);
      expect(await env.store.social.visibleTo(a.id, [f.id, e.id, d.id, a.id, c.id, b.id])).toEqual([
        d.id,
        a.id,
        c.id,
        b.id,
      ]);
      expect(await env.store.social.visibleTo(f.id, [a.id, e.id])).toEqual([]);
      expect(await env.store.social.visibleTo(c.id, [e.id, a.id])).toEqual([a.id]);
      expect(await env.store.social.relatedUsers(c.id)).toEqual(sorted([a.id, c.id, e.id]));
    });

    it('counts 1:1 partners and shared groups of users on different databases, minus blocks', async () => {
      const [a, b, c, g] = [await user(0), await user(1), await user(1), await user(0)];
      const now = Date.now();
      const ab = await env.store.conversations.getOrCreateDirect(uid('c_'), a.id, b.id, now);
      await env.store.conversations.getOrCreateDirect(uid('c_'), c.id, a.id, now);
      await env.store.conversations.createGroup(uid('c_'), 'g', g.id, [b.id], now);
      expect(await env.store.social.presenceAudiences([a.id, b.id, c.id, g.id])).toEqual([
        sorted([b.id, c.id]),
        [a.id],
        [a.id],
        [],
      ]);
      expect(await env.store.social.visibleTo(b.id, [a.id, c.id, g.id])).toEqual([a.id, g.id]);
      expect(await env.store.social.relatedUsers(b.id)).toEqual(sorted([a.id, b.id, g.id]));
      await env.store.social.block(b.id, a.id, now);
      expect(await append(ab.id, a.id)).toBe('blocked');
      expect(await env.store.social.presenceAudiences([a.id, b.id])).toEqual([[c.id], []]);
      expect(await env.store.social.visibleTo(a.id, [b.id, c.id])).toEqual([c.id]);
      await env.store.social.unblock(b.id, a.id);
      expect(await append(ab.id, a.id)).toBe('ok');
      expect(await env.store.social.presenceAudiences([b.id])).toEqual([[a.id]]);
    });
  });
}
