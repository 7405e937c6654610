/**
 * The embedded store: one SQLite file in WAL mode, every statement prepared once, one object
 * per aggregate (accounts.ts, conversations.ts, ...) over one connection (sqlite-driver.ts).
 */
import type { Store, StoreCapabilities } from '../store.js';
import { SqliteAccounts } from './accounts.js';
import { SqliteConversations } from './conversations.js';
import { SqliteMessages } from './messages.js';
import { SqlitePushQueue } from './push-queue.js';
import { SqliteSearch } from './search.js';
import { SqliteServerValues } from './server-values.js';
import { SqliteSocial } from './social.js';
import { SqliteUploads } from './uploads.js';
import { SqliteDriver } from './sqlite-driver.js';
import type { SqliteStoreOptions } from './sqlite-driver.js';

export { SQLITE_NEW_PAGE_SIZE, isCorruption, looseDataModes } from './sqlite-driver.js';
export type { SqliteStoreOptions } from './sqlite-driver.js';

export class SqliteStore implements Store {
  readonly capabilities: StoreCapabilities = { multiWriter: false, orderedAppends: true, positionSpaces: 1 };
  readonly accounts: SqliteAccounts;
  readonly conversations: SqliteConversations;
  readonly messages: SqliteMessages;
  readonly search: SqliteSearch;
  readonly social: SqliteSocial;
  readonly push: SqlitePushQueue;
  readonly values: SqliteServerValues;
  readonly uploads: SqliteUploads;
  private readonly driver: SqliteDriver;

  constructor(opts: SqliteStoreOptions) {
    this.driver = new SqliteDriver(opts);
    this.accounts = new SqliteAccounts(this.driver);
    this.search = new SqliteSearch(this.driver);
    this.messages = new SqliteMessages(this.driver, this.search);
    this.social = new SqliteSocial(this.driver, this.messages);
    this.conversations = new SqliteConversations(this.driver, this.messages, this.social);
    this.push = new SqlitePushQueue(this.driver);
    this.values = new SqliteServerValues(this.driver);
    this.uploads = new SqliteUploads(this.driver);
  }

  /** See `SqliteDriver.walCheckpoint`. */
  async walCheckpoint(): Promise<{ log: number; checkpointed: number }> {
    return this.driver.walCheckpoint();
  }
  async ping(): Promise<void> {
    this.driver.ping();
  }
  async close(): Promise<void> {
    this.driver.close();
  }
}
