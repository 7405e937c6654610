/**
 * Social on the embedded store: contacts, declines and blocks, and the presence audiences
 * derived from them. It owns the blocked flag of direct conversations (appends read it).
 */
import type { ContactRow, SocialStore } from '../store.js';
import { toContact } from '../common/rows.js';
import type { ContactDbRow, ConversationDbRow } from '../common/rows.js';
import { directKey } from '../common/direct-key.js';
import type { SqliteDriver } from './sqlite-driver.js';
import type { SqliteMessages } from './messages.js';

type ContactState = ContactRow['state'];

function statements(d: SqliteDriver) {
  return {
    relatedUsers: d.pluck<{ u: string }, string>(
      `SELECT @u UNION
       SELECT b.user_id FROM members a JOIN members b ON b.conversation_id = a.conversation_id
       WHERE a.user_id = @u
       UNION SELECT contact_id FROM contacts WHERE user_id = @u
       ORDER BY 1`,
    ),
    audience: d.pluck<{ u: string }, string>(
      `SELECT contact_id FROM contacts WHERE user_id = @u AND state = 'accepted'
       UNION
       SELECT p.user_id FROM members m JOIN conversations c ON c.id = m.conversation_id AND c.kind = 'direct'
       JOIN members p ON p.conversation_id = m.conversation_id AND p.user_id <> m.user_id
       WHERE m.user_id = @u AND m.request_seq IS NULL AND p.request_seq IS NULL`,
    ),
    sharesConversation: d.pluck<[a: string, b: string], 1>(
      `SELECT 1 FROM members a JOIN members b ON a.conversation_id = b.conversation_id
       WHERE a.user_id = ? AND b.user_id = ? AND a.request_seq IS NULL AND b.request_seq IS NULL LIMIT 1`,
    ),
    contactState: d.pluck<[u: string, other: string], ContactState>(
      'SELECT state FROM contacts WHERE user_id = ? AND contact_id = ?',
    ),
    acceptedContacts: d.pluck<[u: string], string>(
      "SELECT contact_id FROM contacts WHERE user_id = ? AND state = 'accepted' ORDER BY contact_id",
    ),
    listContacts: d.prepare<[u: string], ContactDbRow>(
      'SELECT contact_id, state, since FROM contacts WHERE user_id = ? ORDER BY since',
    ),
    upsertContact: d.prepare<[u: string, other: string, state: ContactState, since: number]>(
      `INSERT INTO contacts (user_id, contact_id, state, since) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, contact_id) DO UPDATE SET state = excluded.state, since = excluded.since`,
    ),
    deleteContact: d.prepare<[u: string, other: string]>(
      'DELETE FROM contacts WHERE user_id = ? AND contact_id = ?',
    ),
    recordDecline: d.prepare<[u: string, requester: string, at: number]>(
      `INSERT INTO contact_declines (user_id, requester_id, declined_at) VALUES (?, ?, ?)
       ON CONFLICT (user_id, requester_id) DO UPDATE SET declined_at = excluded.declined_at`,
    ),
    declinedAt: d.pluck<[u: string, requester: string], number>(
      'SELECT declined_at FROM contact_declines WHERE user_id = ? AND requester_id = ?',
    ),
    insertBlock: d.prepare<[blocker: string, blocked: string, at: number]>(
      'INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    deleteBlock: d.prepare<[blocker: string, blocked: string]>(
      'DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?',
    ),
    blockedEither: d.pluck<{ a: string; b: string }, 1>(
      'SELECT 1 FROM blocks WHERE (blocker_id = @a AND blocked_id = @b) OR (blocker_id = @b AND blocked_id = @a) LIMIT 1',
    ),
    listBlocked: d.pluck<[blocker: string], string>(
      'SELECT blocked_id FROM blocks WHERE blocker_id = ? ORDER BY created_at',
    ),
    directByKey: d.prepare<[key: string], ConversationDbRow>(
      'SELECT * FROM conversations WHERE direct_key = ?',
    ),
    setDirectBlocked: d.prepare<[blocked: 0 | 1, key: string]>(
      "UPDATE conversations SET blocked = ? WHERE direct_key = ? AND kind = 'direct'",
    ),
  };
}

export class SqliteSocial implements SocialStore {
  private readonly s: ReturnType<typeof statements>;

  constructor(
    private readonly d: SqliteDriver,
    /** A block changes the blocked flag its cached append state holds. */
    private readonly messages: Pick<SqliteMessages, 'forgetConversation'>,
  ) {
    this.s = statements(d);
  }

  /** Mark the direct conversation of two users blocked if either blocked the other (inside a transaction). */
  flagDirectIfBlocked(a: string, b: string): void {
    if (this.blockedPair(a, b)) this.s.setDirectBlocked.run(1, directKey(a, b));
  }

  async presenceAudiences(userIds: readonly string[]): Promise<string[][]> {
    const out: string[][] = [];
    for (const userId of userIds) {
      const ids = this.s.audience.all({ u: userId });
      const blocked = new Set(await this.blockedAmong(userId, ids));
      out.push(ids.filter((id) => id !== userId && !blocked.has(id)));
    }
    return out;
  }
  async acceptedContacts(userIds: readonly string[]): Promise<string[][]> {
    return userIds.map((id) => this.s.acceptedContacts.all(id));
  }
  async relatedUsers(userId: string): Promise<string[]> {
    return this.s.relatedUsers.all({ u: userId });
  }
  async visibleTo(viewerId: string, userIds: readonly string[]): Promise<string[]> {
    const blocked = new Set(await this.blockedAmong(viewerId, userIds));
    return userIds.filter(
      (id) =>
        id === viewerId ||
        (!blocked.has(id) &&
          (this.s.contactState.get(viewerId, id) === 'accepted' ||
            this.s.sharesConversation.get(viewerId, id) === 1)),
    );
  }
  async listContacts(userId: string): Promise<ContactRow[]> {
    return this.s.listContacts.all(userId).map(toContact);
  }
  async getContactState(userId: string, otherId: string): Promise<ContactState | 'none'> {
    return this.s.contactState.get(userId, otherId) ?? 'none';
  }
  async setContactPair(
    a: string,
    stateA: ContactState | 'none',
    b: string,
    stateB: ContactState | 'none',
    now: number,
  ): Promise<void> {
    this.d.writeTx(() => {
      for (const [u, o, st] of [
        [a, b, stateA],
        [b, a, stateB],
      ] as const) {
        if (st === 'none') this.s.deleteContact.run(u, o);
        else this.s.upsertContact.run(u, o, st, now);
      }
    })();
  }
  async recordDecline(userId: string, requesterId: string, at: number): Promise<void> {
    this.s.recordDecline.run(userId, requesterId, at);
  }
  async declinedAt(userId: string, requesterId: string): Promise<number | null> {
    return this.s.declinedAt.get(userId, requesterId) ?? null;
  }
  async block(blockerId: string, blockedId: string, now: number): Promise<void> {
    this.forgetDirect(blockerId, blockedId);
    this.d.writeTx(() => {
      this.s.insertBlock.run(blockerId, blockedId, now);
      this.s.setDirectBlocked.run(1, directKey(blockerId, blockedId));
    })();
  }
  async unblock(blockerId: string, blockedId: string): Promise<void> {
    this.forgetDirect(blockerId, blockedId);
    this.d.writeTx(() => {
      this.s.deleteBlock.run(blockerId, blockedId);
      this.s.setDirectBlocked.run(
        this.blockedPair(blockerId, blockedId) ? 1 : 0,
        directKey(blockerId, blockedId),
      );
    })();
  }
  async isBlockedEither(a: string, b: string): Promise<boolean> {
    return this.blockedPair(a, b);
  }
  async blockedAmong(userId: string, others: readonly string[]): Promise<string[]> {
    return others.filter((o) => this.blockedPair(userId, o));
  }
  async listBlocked(userId: string): Promise<string[]> {
    return this.s.listBlocked.all(userId);
  }

  private blockedPair(a: string, b: string): boolean {
    return this.s.blockedEither.get({ a, b }) === 1;
  }

  /** Drop the cached append state of two users' direct conversation (its blocked flag changes). */
  private forgetDirect(a: string, b: string): void {
    const row = this.s.directByKey.get(directKey(a, b));
    if (row) this.messages.forgetConversation(row.id);
  }
}
