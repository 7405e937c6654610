/**
 * The embedded store's data is readable by its owner only: a new data directory is 0700 and
 * the database files 0600; a data directory open to others is reported at start.
 */
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { account } from '../helpers/raw.js';

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

let parent: string | undefined;
let server: ServerHandle | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
  if (parent) rmSync(parent, { recursive: true, force: true });
  parent = undefined;
});

describe('data directory modes', () => {
  it('a new data directory is 0700 and the database, WAL and shared-memory files 0600', async () => {
    parent = mkdtempSync(join(tmpdir(), 'parley-modes-'));
    chmodSync(parent, 0o755);
    const dataDir = join(parent, 'data', 'nested');
    server = await startServer({ dataDir });
    await account(server.url);
    expect(mode(join(parent, 'data'))).toBe('700');
    expect(mode(dataDir)).toBe('700');
    for (const file of ['parley.db', 'parley.db-wal', 'parley.db-shm']) {
      expect(mode(join(dataDir, file)), file).toBe('600');
    }
    expect(server.output()).not.toContain('open to other users');
  });

  it('an existing data directory open to others is reported at start', async () => {
    parent = mkdtempSync(join(tmpdir(), 'parley-modes-'));
    chmodSync(parent, 0o755);
    server = await startServer({ dataDir: parent });
    expect(server.output()).toContain('open to other users');
    expect(server.output()).toContain(`${parent} (0755)`);
  });
});
