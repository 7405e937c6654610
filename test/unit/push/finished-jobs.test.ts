/**
 * A finished push job is kept only so that its message is never queued again for the same
 * subscription: its payload, which may quote the message, is not kept with it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '@parley/server';

describe('finished push jobs', () => {
  it('keep no payload once sent or dropped; pending ones keep theirs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-push-jobs-'));
    const path = join(dir, 'parley.db');
    const store = new SqliteStore({ path });
    try {
      const now = Date.now();
      await store.accounts.createUser({
        id: 'u_a',
        username: 'a',
        displayName: 'a',
        passwordHash: 'h',
        createdAt: now,
      });
      await store.accounts.createDevice(
        { id: 'd_a', userId: 'u_a', name: 'phone', createdAt: now, lastSeenAt: now },
        'hash',
      );
      const sub = await store.push.savePushSubscription({
        id: 'ps_a',
        userId: 'u_a',
        deviceId: 'd_a',
        kind: 'fcm',
        address: 'token-aaaaaaaaaaaaaaaaaaaa',
        p256dh: null,
        auth: null,
        createdAt: now,
      });
      const payload = JSON.stringify({ text: 'a secret plan' });
      const jobs = ['m1', 'm2', 'm3'].map((messageId) => ({
        messageId,
        subscriptionId: sub.id,
        userId: sub.userId,
        payload,
        createdAt: now,
      }));
      expect(await store.push.enqueuePushJobs(jobs)).toBe(3);
      const [sent, dropped] = await store.push.claimPushJobs(now, 2, 60_000);
      await store.push.finishPushJob(sent!.id, 'sent');
      await store.push.finishPushJob(dropped!.id, 'dropped');
      const db = new Database(path, { readonly: true });
      try {
        const rows = db.prepare('SELECT message_id, state, payload FROM push_jobs ORDER BY message_id').all();
        expect(rows).toEqual([
          { message_id: 'm1', state: 'sent', payload: '' },
          { message_id: 'm2', state: 'dropped', payload: '' },
          { message_id: 'm3', state: 'pending', payload },
        ]);
      } finally {
        db.close();
      }
      // Still never queued twice.
      expect(await store.push.enqueuePushJobs(jobs)).toBe(0);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
