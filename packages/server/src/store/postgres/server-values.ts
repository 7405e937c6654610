/**
 * PostgreSQL values: Server-wide values, on the catalog database.
 */
import type { ServerValueStore } from '../store.js';
import type { PgDatabase, PgShards } from './postgres-driver.js';

export class PgServerValues implements ServerValueStore {
  constructor(private readonly shards: PgShards) {}

  private get db(): PgDatabase {
    return this.shards.catalog;
  }

  async serverValue(key: string, value: string): Promise<string> {
    const [ins] = await this.db.rows<{ value: string }>(
      'INSERT INTO server_values (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING value',
      [key, value],
    );
    if (ins) return ins.value;
    // Someone else's row: read it in a new statement (a new snapshot, which sees their commit).
    const [r] = await this.db.rows<{ value: string }>('SELECT value FROM server_values WHERE key = $1', [
      key,
    ]);
    if (!r) throw new Error(`server value ${key} vanished`);
    return r.value;
  }
}
