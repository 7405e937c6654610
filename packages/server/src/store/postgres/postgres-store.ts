import type { Store, StoreCapabilities } from '../store.js';
import { PgAccounts } from './accounts.js';
import { PgConversations } from './conversations.js';
import { PgMessages } from './messages.js';
import { PgShards } from './postgres-driver.js';
import type { PostgresStoreOptions } from './postgres-driver.js';
import { PgPushQueue } from './push-queue.js';
import { PgSearch } from './search.js';
import { PgServerValues } from './server-values.js';
import { PgSocial } from './social.js';
import { PgUploads } from './uploads.js';

export type { PostgresStoreOptions } from './postgres-driver.js';

/**
 * The cluster-mode store: PostgreSQL, one database or several (shards), safe for many server
 * processes writing at once (`multiWriter`). Open with `PostgresStore.open()`, which applies
 * pending migrations to every database first.
 *
 * The driver is node-postgres (`pg`): postgres.js 3.4.9 throws an uncatchable TypeError from
 * a timer when a connection drops with a write pending (porsager/postgres#1154, #1208),
 * which would take the whole chat server down exactly when the store should answer
 * `unavailable`.
 */
export class PostgresStore implements Store {
  readonly capabilities: StoreCapabilities;
  readonly accounts: PgAccounts;
  readonly conversations: PgConversations;
  readonly messages: PgMessages;
  readonly search: PgSearch;
  readonly social: PgSocial;
  readonly push: PgPushQueue;
  readonly values: PgServerValues;
  readonly uploads: PgUploads;

  private constructor(private readonly shards: PgShards) {
    this.capabilities = { multiWriter: true, orderedAppends: false, positionSpaces: shards.spaces };
    this.accounts = new PgAccounts(shards);
    this.conversations = new PgConversations(shards);
    this.messages = new PgMessages(shards);
    this.search = new PgSearch(shards);
    this.social = new PgSocial(shards);
    this.push = new PgPushQueue(shards);
    this.values = new PgServerValues(shards);
    this.uploads = new PgUploads(shards);
  }

  /** Connect and migrate. Several processes may call this at once (migrations take a lock). */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    return new PostgresStore(await PgShards.open(opts));
  }

  async ping(): Promise<void> {
    await this.shards.all((db) => db.rows('SELECT 1'));
  }

  async close(): Promise<void> {
    await this.shards.close();
  }
}
