/**
 * A damaged embedded store is noticed: the server refuses to start on it, and when it serves
 * one anyway (the start-up check turned off) the first damaged read stops the store: every
 * call answers `storage_failed` (not retryable), writes stop, and /healthz and /readyz fail.
 */
import { openSync, readSync, closeSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Conversation, HistoryPage, Session } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { account, api, uname } from '../helpers/raw.js';

const FAST = ['--send-rate-per-sec', '100000', '--send-burst', '100000'];
const handles: ServerHandle[] = [];
afterAll(async () => {
  for (const h of handles) {
    await h.stop();
    h.cleanup();
  }
});

/** A data dir whose store holds `n` messages of 3,000 characters (a few hundred pages). */
async function populated(n: number): Promise<{ dataDir: string; conversationId: string; owner: string }> {
  const server = await startServer({ args: FAST });
  handles.push(server);
  const a: Session = await account(server.url);
  const b: Session = await account(server.url);
  const conv = await api<Conversation>(
    server.url,
    'POST',
    '/v1/conversations/direct',
    { username: b.user.username },
    a.token,
  );
  expect(conv.status).toBe(200);
  for (let i = 0; i < n; i++) {
    const text = `${i} `.padEnd(3000, String.fromCharCode(97 + (i % 26)));
    const sent = await api(
      server.url,
      'POST',
      `/v1/conversations/${conv.body.id}/messages`,
      { clientId: uname('c'), text },
      a.token,
    );
    expect(sent.status).toBe(201);
  }
  // A clean stop checkpoints the WAL into the database file.
  expect(await server.stop()).toBe(0);
  return { dataDir: server.dataDir, conversationId: conv.body.id, owner: a.user.username };
}

/** Overwrite the pages between 30% and 70% of the file with garbage; returns how many pages. */
function damage(dataDir: string): number {
  const path = join(dataDir, 'parley.db');
  const fd = openSync(path, 'r+');
  try {
    const header = Buffer.alloc(18);
    readSync(fd, header, 0, 18, 0);
    const pageSize = header.readUInt16BE(16) === 1 ? 65536 : header.readUInt16BE(16);
    const pages = Math.floor(statSync(path).size / pageSize);
    const from = Math.floor(pages * 0.3);
    const to = Math.floor(pages * 0.7);
    const junk = Buffer.alloc(pageSize);
    for (let p = from; p < to; p++) {
      for (let i = 0; i < pageSize; i++) junk[i] = (p * 31 + i * 7) & 0xff;
      writeSync(fd, junk, 0, pageSize, p * pageSize);
    }
    console.log(`overwrote pages ${from + 1}..${to} of ${pages} (${pageSize} bytes each)`);
    return to - from;
  } finally {
    closeSync(fd);
  }
}

describe('a damaged embedded store', () => {
  it('is refused at start with a clear message and a non-zero exit', async () => {
    const { dataDir } = await populated(150);
    expect(damage(dataDir)).toBeGreaterThan(10);
    const err = await startServer({ dataDir }).then(
      (h) => {
        handles.push(h);
        return null;
      },
      (e: Error) => e,
    );
    expect(err).not.toBeNull();
    console.log(err?.message.split('\n').slice(0, 2).join(' | '));
    expect(err?.message).toMatch(/server exited with 1/);
    expect(err?.message).toMatch(
      /parley\.db is damaged \(PRAGMA quick_check: .+\): restore it from a backup/,
    );
  });

  it('served anyway, stops at the first damaged read: storage_failed, no writes, health 503', async () => {
    const { dataDir, conversationId, owner } = await populated(150);
    damage(dataDir);
    const server = await startServer({ dataDir, args: ['--store-quick-check', 'false', ...FAST] });
    handles.push(server);
    expect((await api(server.url, 'GET', '/healthz')).status).toBe(200);

    type Answer = { status: number; body: { code?: string; retryable?: boolean } };
    let failure: Answer | undefined;
    const login = await api<Session & { code?: string }>(server.url, 'POST', '/v1/sessions', {
      username: owner,
      password: 'password123',
    });
    if (login.status !== 201) failure = login;
    // Page back through the whole history until a read meets a damaged page.
    let before: number | undefined;
    for (let i = 0; i < 100 && !failure; i++) {
      const q = before === undefined ? '' : `&before=${before}`;
      const page = await api<HistoryPage & { code?: string }>(
        server.url,
        'GET',
        `/v1/conversations/${conversationId}/messages?limit=50${q}`,
        undefined,
        login.body.token,
      );
      if (page.status !== 200) failure = page;
      else if (!page.body.hasMore) break;
      else before = page.body.messages[0]?.seq;
    }
    expect(failure).toMatchObject({ status: 500, body: { code: 'storage_failed', retryable: false } });

    // From then on nothing is written, and both probes fail.
    const signup = await api(server.url, 'POST', '/v1/users', {
      username: uname('late'),
      password: 'password123',
    });
    expect(signup).toMatchObject({ status: 500, body: { code: 'storage_failed', retryable: false } });
    await expect.poll(async () => (await api(server.url, 'GET', '/healthz')).status).toBe(503);
    await expect.poll(async () => (await api(server.url, 'GET', '/readyz')).status).toBe(503);
    expect(server.output()).toContain('the store failed');
  });
});
