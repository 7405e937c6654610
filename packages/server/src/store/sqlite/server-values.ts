/** Server-wide values on the embedded store. */
import type { ServerValueStore } from '../store.js';
import type { SqliteDriver } from './sqlite-driver.js';

export class SqliteServerValues implements ServerValueStore {
  private readonly insert;
  private readonly value;

  constructor(d: SqliteDriver) {
    this.insert = d.prepare<[key: string, value: string]>(
      'INSERT INTO server_values (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING',
    );
    this.value = d.pluck<[key: string], string>('SELECT value FROM server_values WHERE key = ?');
  }

  async serverValue(key: string, value: string): Promise<string> {
    this.insert.run(key, value);
    // The row is there: inserted now or before.
    return this.value.get(key) ?? value;
  }
}
