/**
 * Social: contacts, declined requests and blocks, and the audiences derived from them (who
 * sees whose presence and name).
 */

/** One row of a user's contact list. */
export interface ContactRow {
  userId: string;
  state: 'accepted' | 'incoming' | 'outgoing';
  since: number;
}

export interface SocialStore {
  /**
   * For each user (in the order given): who is told of their presence changes, i.e. their
   * accepted contacts and 1:1 partners minus blocks either way, sorted. One call for the
   * users of a whole turn: a reconnect storm brings thousands at once.
   */
  presenceAudiences(userIds: readonly string[]): Promise<string[][]>;
  /** For each user (in the order given): their accepted contacts, sorted. */
  acceptedContacts(userIds: readonly string[]): Promise<string[][]>;
  /**
   * Users who show `userId`'s name: members of a conversation they are in, and anyone with
   * a contact row (accepted or requested, either way) with them; `userId` included, sorted.
   */
  relatedUsers(userId: string): Promise<string[]>;
  /** Which of `userIds` the viewer may see the presence of: contacts or anyone sharing a conversation, minus blocks either way. */
  visibleTo(viewerId: string, userIds: readonly string[]): Promise<string[]>;
  listContacts(userId: string): Promise<ContactRow[]>;
  /** My side of the relation with another user ('none' when there is no row). */
  getContactState(userId: string, otherId: string): Promise<'accepted' | 'incoming' | 'outgoing' | 'none'>;
  /** Set both sides of a relation at once ('none' removes a side). */
  setContactPair(
    a: string,
    stateA: 'accepted' | 'incoming' | 'outgoing' | 'none',
    b: string,
    stateB: 'accepted' | 'incoming' | 'outgoing' | 'none',
    now: number,
  ): Promise<void>;
  /** Record that `userId` declined (or dropped) `requesterId`'s contact request at `at`. */
  recordDecline(userId: string, requesterId: string, at: number): Promise<void>;
  /** When `userId` last declined `requesterId`'s contact request; null when never. */
  declinedAt(userId: string, requesterId: string): Promise<number | null>;
  /** Block (idempotent); also marks their direct conversation as blocked. */
  block(blockerId: string, blockedId: string, now: number): Promise<void>;
  unblock(blockerId: string, blockedId: string): Promise<void>;
  /** True when either user blocked the other. */
  isBlockedEither(a: string, b: string): Promise<boolean>;
  /** Of `others`, those who blocked `userId` or whom `userId` blocked. */
  blockedAmong(userId: string, others: readonly string[]): Promise<string[]>;
  listBlocked(userId: string): Promise<string[]>;
}
