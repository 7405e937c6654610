/**
 * Uploads on PostgreSQL (ports/uploads.ts). A row lives on the database of its uploader
 * (placed by user id, as accounts are); the message it is attached to lives with its
 * conversation. Lookups by upload id alone (a download) ask every database: ids are random.
 */
import type { Attachment } from '@parley/protocol';
import type { ClaimResult, NewUpload, UploadRecord, UploadsStore } from '../store.js';
import type { PgDatabase, PgShards } from './postgres-driver.js';

interface UploadRow {
  id: string;
  user_id: string;
  name: string;
  size: string | number;
  created_at: string | number;
  attachment: string | null;
  conversation_id: string | null;
  client_id: string | null;
}

const COLUMNS = 'id, user_id, name, size, created_at, attachment, conversation_id, client_id';

function toUpload(r: UploadRow): UploadRecord {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    size: Number(r.size),
    createdAt: Number(r.created_at),
    attachment: r.attachment === null ? null : (JSON.parse(r.attachment) as Attachment),
    conversationId: r.conversation_id,
    clientId: r.client_id,
  };
}

/** PostgreSQL text holds no NUL: an id with one names nothing. */
const nul = (...s: string[]) => s.some((x) => x.includes('\u0000'));

export class PgUploads implements UploadsStore {
  constructor(private readonly shards: PgShards) {}

  private byUser(userId: string): PgDatabase {
    return this.shards.of(userId);
  }

  async createUpload(u: NewUpload): Promise<void> {
    await this.byUser(u.userId).rows(
      'INSERT INTO uploads (id, user_id, name, size, created_at) VALUES ($1, $2, $3, $4, $5)',
      [u.id, u.userId, u.name, u.size, u.createdAt],
    );
  }

  async finishUpload(id: string, attachment: Attachment): Promise<void> {
    if (nul(id)) return;
    await this.shards.all((db) =>
      db.rows('UPDATE uploads SET size = $2, attachment = $3 WHERE id = $1', [
        id,
        attachment.size,
        JSON.stringify(attachment),
      ]),
    );
  }

  async getUpload(id: string): Promise<UploadRecord | null> {
    if (nul(id)) return null;
    const parts = await this.shards.all((db) =>
      db.rows<UploadRow>(`SELECT ${COLUMNS} FROM uploads WHERE id = $1`, [id]),
    );
    const row = parts.flat()[0];
    return row ? toUpload(row) : null;
  }

  async uploadUsage(userId: string): Promise<number> {
    if (nul(userId)) return 0;
    const [r] = await this.byUser(userId).rows<{ n: string }>(
      'SELECT coalesce(sum(size), 0) AS n FROM uploads WHERE user_id = $1',
      [userId],
    );
    return Number(r?.n ?? 0);
  }

  async claimUploads(
    userId: string,
    conversationId: string,
    clientId: string,
    ids: readonly string[],
  ): Promise<ClaimResult> {
    const bad = nul(userId, conversationId, clientId) ? ids[0] : ids.find((id) => nul(id));
    if (bad !== undefined) return { ok: false, uploadId: bad };
    return this.byUser(userId)
      .transaction(async (c) => {
        const { rows } = await c.query<{ id: string; attachment: string }>(
          `UPDATE uploads SET conversation_id = $3, client_id = $4
         WHERE id = ANY($1::text[]) AND user_id = $2 AND attachment IS NOT NULL
           AND (conversation_id IS NULL OR (conversation_id = $3 AND client_id = $4))
         RETURNING id, attachment`,
          [ids, userId, conversationId, clientId],
        );
        const got = new Map(rows.map((r) => [r.id, JSON.parse(r.attachment) as Attachment]));
        const missing = ids.find((id) => !got.has(id));
        if (missing !== undefined) {
          // All or none.
          throw new Refused(missing);
        }
        return { ok: true as const, attachments: ids.map((id) => got.get(id) as Attachment) };
      })
      .catch((e: unknown) => {
        if (e instanceof Refused) return { ok: false as const, uploadId: e.uploadId };
        throw e;
      });
  }

  async releaseUploads(userId: string, conversationId: string, clientId: string): Promise<void> {
    if (nul(userId, conversationId, clientId)) return;
    await this.byUser(userId).rows(
      `UPDATE uploads SET conversation_id = NULL, client_id = NULL
       WHERE user_id = $1 AND conversation_id = $2 AND client_id = $3`,
      [userId, conversationId, clientId],
    );
  }

  async detachUploads(userId: string, conversationId: string, clientId: string): Promise<string[]> {
    if (nul(userId, conversationId, clientId)) return [];
    const rows = await this.byUser(userId).rows<{ id: string }>(
      `UPDATE uploads SET conversation_id = NULL, client_id = NULL, attachment = NULL
       WHERE user_id = $1 AND conversation_id = $2 AND client_id = $3 RETURNING id`,
      [userId, conversationId, clientId],
    );
    return rows.map((r) => r.id);
  }

  async staleUploads(before: number, limit: number): Promise<string[]> {
    const parts = await this.shards.all((db) =>
      db.rows<{ id: string; created_at: string }>(
        `SELECT id, created_at FROM uploads WHERE conversation_id IS NULL AND created_at < $1
         ORDER BY created_at LIMIT $2`,
        [before, limit],
      ),
    );
    return parts
      .flat()
      .sort((a, b) => Number(a.created_at) - Number(b.created_at))
      .slice(0, limit)
      .map((r) => r.id);
  }

  async deleteUpload(id: string): Promise<void> {
    if (nul(id)) return;
    await this.shards.all((db) => db.rows('DELETE FROM uploads WHERE id = $1', [id]));
  }

  async canReadUpload(userId: string, id: string): Promise<boolean> {
    if (nul(userId)) return false;
    const up = await this.getUpload(id);
    if (!up) return false;
    if (up.userId === userId) return true;
    if (up.conversationId === null || up.clientId === null) return false;
    // The feed's rule (as search applies it), on the conversation's database.
    const rows = await this.shards.of(up.conversationId).rows(
      `SELECT 1 FROM message_keys k
       JOIN messages m ON m.conversation_id = k.conversation_id AND m.seq = k.seq
       WHERE k.sender_id = $1 AND k.client_id = $2 AND k.conversation_id = $3 AND NOT m.deleted
         AND (EXISTS (SELECT 1 FROM members mb
                      WHERE mb.conversation_id = m.conversation_id AND mb.user_id = $4 AND m.pos > mb.joined_pos)
           OR EXISTS (SELECT 1 FROM former_members f
                      WHERE f.user_id = $4 AND f.conversation_id = m.conversation_id
                        AND m.pos > f.joined_pos AND m.pos <= f.left_pos))`,
      [up.userId, up.clientId, up.conversationId, userId],
    );
    return rows.length > 0;
  }
}

/** Thrown inside the claim transaction to roll it back. */
class Refused extends Error {
  constructor(readonly uploadId: string) {
    super(`upload ${uploadId} cannot be attached`);
  }
}
