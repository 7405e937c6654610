/** Uploads on the embedded store (ports/uploads.ts). */
import type { Attachment } from '@parley/protocol';
import type { ClaimResult, NewUpload, UploadRecord, UploadsStore } from '../store.js';
import type { SqliteDriver } from './sqlite-driver.js';

interface UploadRow {
  id: string;
  user_id: string;
  name: string;
  size: number;
  created_at: number;
  attachment: string | null;
  conversation_id: string | null;
  client_id: string | null;
}

function toUpload(r: UploadRow): UploadRecord {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    size: r.size,
    createdAt: r.created_at,
    attachment: r.attachment === null ? null : (JSON.parse(r.attachment) as Attachment),
    conversationId: r.conversation_id,
    clientId: r.client_id,
  };
}

function statements(d: SqliteDriver) {
  return {
    insert: d.prepare<[id: string, u: string, name: string, size: number, at: number]>(
      'INSERT INTO uploads (id, user_id, name, size, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    finish: d.prepare<[size: number, att: string, id: string]>(
      'UPDATE uploads SET size = ?, attachment = ? WHERE id = ?',
    ),
    get: d.prepare<[id: string], UploadRow>('SELECT * FROM uploads WHERE id = ?'),
    usage: d.pluck<[u: string], number>('SELECT coalesce(sum(size), 0) FROM uploads WHERE user_id = ?'),
    claim: d.prepare<[c: string, k: string, id: string, u: string, c2: string, k2: string]>(
      `UPDATE uploads SET conversation_id = ?, client_id = ?
       WHERE id = ? AND user_id = ? AND attachment IS NOT NULL
         AND (conversation_id IS NULL OR (conversation_id = ? AND client_id = ?))`,
    ),
    release: d.prepare<[u: string, c: string, k: string]>(
      `UPDATE uploads SET conversation_id = NULL, client_id = NULL
       WHERE user_id = ? AND conversation_id = ? AND client_id = ?`,
    ),
    detach: d.pluck<[u: string, c: string, k: string], string>(
      `UPDATE uploads SET conversation_id = NULL, client_id = NULL, attachment = NULL
       WHERE user_id = ? AND conversation_id = ? AND client_id = ? RETURNING id`,
    ),
    stale: d.pluck<[before: number, n: number], string>(
      'SELECT id FROM uploads WHERE conversation_id IS NULL AND created_at < ? ORDER BY created_at LIMIT ?',
    ),
    delete: d.prepare<[id: string]>('DELETE FROM uploads WHERE id = ?'),
    // The feed's rule (as search applies it), on the message the upload is attached to.
    visible: d.pluck<{ id: string; u: string }, number>(
      `SELECT 1 FROM uploads up
       JOIN messages m ON m.sender_id = up.user_id AND m.client_id = up.client_id
         AND m.conversation_id = up.conversation_id
       WHERE up.id = @id AND NOT m.deleted
         AND (EXISTS (SELECT 1 FROM members mb
                      WHERE mb.conversation_id = m.conversation_id AND mb.user_id = @u AND m.pos > mb.joined_pos)
           OR EXISTS (SELECT 1 FROM former_members f
                      WHERE f.user_id = @u AND f.conversation_id = m.conversation_id
                        AND m.pos > f.joined_pos AND m.pos <= f.left_pos))`,
    ),
  };
}

export class SqliteUploads implements UploadsStore {
  private readonly s: ReturnType<typeof statements>;
  private readonly claimTx: (u: string, c: string, k: string, ids: readonly string[]) => ClaimResult;

  constructor(d: SqliteDriver) {
    const s = (this.s = statements(d));
    this.claimTx = d.writeTx((u: string, c: string, k: string, ids: readonly string[]): ClaimResult => {
      const attachments: Attachment[] = [];
      for (const id of ids) {
        const row = s.claim.run(c, k, id, u, c, k).changes === 1 ? s.get.get(id) : undefined;
        if (!row?.attachment) {
          // All or none: undo the claims made so far.
          throw new Refused(id);
        }
        attachments.push(JSON.parse(row.attachment) as Attachment);
      }
      return { ok: true, attachments };
    });
  }

  async createUpload(u: NewUpload): Promise<void> {
    this.s.insert.run(u.id, u.userId, u.name, u.size, u.createdAt);
  }
  async finishUpload(id: string, attachment: Attachment): Promise<void> {
    this.s.finish.run(attachment.size, JSON.stringify(attachment), id);
  }
  async getUpload(id: string): Promise<UploadRecord | null> {
    const r = this.s.get.get(id);
    return r ? toUpload(r) : null;
  }
  async uploadUsage(userId: string): Promise<number> {
    return this.s.usage.get(userId) ?? 0;
  }
  async claimUploads(
    userId: string,
    conversationId: string,
    clientId: string,
    ids: readonly string[],
  ): Promise<ClaimResult> {
    try {
      return this.claimTx(userId, conversationId, clientId, ids);
    } catch (e) {
      if (e instanceof Refused) return { ok: false, uploadId: e.uploadId };
      throw e;
    }
  }
  async releaseUploads(userId: string, conversationId: string, clientId: string): Promise<void> {
    this.s.release.run(userId, conversationId, clientId);
  }
  async detachUploads(userId: string, conversationId: string, clientId: string): Promise<string[]> {
    return this.s.detach.all(userId, conversationId, clientId);
  }
  async staleUploads(before: number, limit: number): Promise<string[]> {
    return this.s.stale.all(before, limit);
  }
  async deleteUpload(id: string): Promise<void> {
    this.s.delete.run(id);
  }
  async canReadUpload(userId: string, id: string): Promise<boolean> {
    const up = this.s.get.get(id);
    if (!up) return false;
    if (up.user_id === userId) return true;
    return up.client_id !== null && this.s.visible.get({ id, u: userId }) === 1;
  }
}

/** Thrown inside the claim transaction to roll it back. */
class Refused extends Error {
  constructor(readonly uploadId: string) {
    super(`upload ${uploadId} cannot be attached`);
  }
}
