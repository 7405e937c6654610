/**
 * `parley backup` while the server takes sends, then `parley restore` into a fresh directory:
 * everything acked before the backup started comes back, once, in a consistent database.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ParleyHttp } from '@parley/client';
import type { Message } from '@parley/client';
import { CLI, startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { Recorder, newUser } from '../helpers/sdk.js';

const run = promisify(execFile);
const parley = (...args: string[]) => run(process.execPath, [CLI, ...args]);

const dirs: string[] = [];
const servers: ServerHandle[] = [];
const clients: Recorder[] = [];
afterAll(async () => {
  clients.forEach((c) => c.stop());
  for (const s of servers) await s.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'parley-backup-'));
  dirs.push(d);
  return d;
};

async function allMessages(http: ParleyHttp, conversationId: string): Promise<Message[]> {
  const out: Message[] = [];
  let after = 0;
  for (;;) {
    const page = await http.history(conversationId, { after, limit: 200 });
    out.push(...page.messages);
    if (!page.hasMore || page.messages.length === 0) return out;
    after = page.messages[page.messages.length - 1]!.seq;
  }
}

describe('parley backup and restore', () => {
  it('a backup taken under load restores every message acked before it started', async () => {
    const server = await startServer();
    servers.push(server);
    dirs.push(server.dataDir);
    const users = await Promise.all(Array.from({ length: 6 }, () => newUser(server.url)));
    const conversations: string[] = [];
    for (let i = 0; i < users.length; i += 2) {
      const c = await users[i]!.http.direct({ username: users[i + 1]!.username });
      conversations.push(c.id, c.id);
    }
    for (const u of users) clients.push(await new Recorder(server.url, u.session.token).start());

    // Every client sends until told to stop; each ack is recorded with its clientId.
    const acked = new Set<string>();
    let stop = false;
    const load = clients.map(async (r, i) => {
      for (let k = 0; !stop; k++) {
        const clientId = `c${i}-${k}`;
        await r.client.send(conversations[i]!, `message ${k} from ${i}`, { clientId });
        acked.add(clientId);
      }
    });
    while (acked.size < 300) await new Promise((r) => setTimeout(r, 20));

    const ackedBefore = new Set(acked);
    const backupFile = join(tempDir(), 'parley.db');
    const { stdout } = await parley('backup', '--to', backupFile, '--data-dir', server.dataDir);
    const afterBackup = acked.size;
    while (acked.size < afterBackup + 200) await new Promise((r) => setTimeout(r, 20));
    stop = true;
    await Promise.all(load);
    console.log(
      `backup: ${stdout.trim()}; acked before it ${ackedBefore.size}, when it ended ${afterBackup}, in all ${acked.size}`,
    );
    // The server still has its database open: even --force is refused.
    await expect(
      parley('restore', '--from', backupFile, '--data-dir', server.dataDir, '--force'),
    ).rejects.toThrow(/running server/);
    clients.splice(0).forEach((c) => c.stop());
    await server.stop();

    // A data dir that is not empty is refused without --force.
    await expect(parley('restore', '--from', backupFile, '--data-dir', server.dataDir)).rejects.toThrow(
      /not empty/,
    );
    // A database that is not a Parley store is refused.
    const other = join(tempDir(), 'other.db');
    new Database(other).exec('CREATE TABLE t (x)').close();
    await expect(parley('restore', '--from', other, '--data-dir', tempDir())).rejects.toThrow(
      /not a Parley database/,
    );
    const fresh = tempDir();
    await parley('restore', '--from', backupFile, '--data-dir', fresh);
    const db = new Database(join(fresh, 'parley.db'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();

    const restored = await startServer({ dataDir: fresh });
    servers.push(restored);
    const seen = new Map<string, number>();
    for (const id of new Set(conversations)) {
      const http = new ParleyHttp({ baseUrl: restored.url });
      http.setToken(users[conversations.indexOf(id)]!.session.token);
      for (const m of await allMessages(http, id)) seen.set(m.clientId, (seen.get(m.clientId) ?? 0) + 1);
    }
    const missing = [...ackedBefore].filter((id) => !seen.has(id));
    const twice = [...seen].filter(([, n]) => n > 1);
    const unknown = [...seen.keys()].filter((id) => !acked.has(id));
    console.log(`restored ${seen.size} messages; missing ${missing.length}, duplicated ${twice.length}`);
    expect(missing).toEqual([]);
    expect(twice).toEqual([]);
    expect(unknown).toEqual([]);
  }, 60_000);
});
