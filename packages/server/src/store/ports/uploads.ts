/**
 * Uploads: the record of each tus upload (who, what name, how big), its Attachment once the
 * bytes are processed, and the message it is attached to. The bytes live in the blob store.
 *
 * Attaching is a claim by (conversation, clientId) made just before the message is appended:
 * a resend with the same clientId claims the same uploads again and the append answers it as
 * a duplicate, while another message naming a claimed upload is refused. The message itself
 * carries a copy of its attachments, so reads never join this table.
 */
import type { Attachment } from '@parley/protocol';

export interface NewUpload {
  id: string;
  userId: string;
  /** Sanitized file name. */
  name: string;
  /** `Upload-Length`: counts against the quota until the upload finishes. */
  size: number;
  createdAt: number;
}

export interface UploadRecord extends NewUpload {
  /** Set once the upload finished and its bytes were processed; `size` is then the stored size. */
  attachment: Attachment | null;
  /** The message it is attached to: (conversationId, the sender's clientId). */
  conversationId: string | null;
  clientId: string | null;
}

/** Why a claim failed: the first upload (in the order asked) that cannot be attached. */
export type ClaimResult = { ok: true; attachments: Attachment[] } | { ok: false; uploadId: string };

export interface UploadsStore {
  createUpload(u: NewUpload): Promise<void>;
  /** Record the processed bytes; `attachment.size` becomes the upload's size. */
  finishUpload(id: string, attachment: Attachment): Promise<void>;
  getUpload(id: string): Promise<UploadRecord | null>;
  /** Bytes of the user's uploads: stored size when finished, declared size before. */
  uploadUsage(userId: string): Promise<number>;
  /**
   * Claim `ids` for the message (conversationId, clientId) of `userId`, all or none: each must
   * be theirs, finished, and unclaimed or claimed by this same message. Answers their
   * attachments in the order asked.
   */
  claimUploads(
    userId: string,
    conversationId: string,
    clientId: string,
    ids: readonly string[],
  ): Promise<ClaimResult>;
  /** Undo a claim whose message was not stored (refused): the uploads are free again. */
  releaseUploads(userId: string, conversationId: string, clientId: string): Promise<void>;
  /**
   * The message's uploads become unattached and unfinished (so never attachable again, and
   * swept as stale): a delete for everyone. Answers their ids.
   */
  detachUploads(userId: string, conversationId: string, clientId: string): Promise<string[]>;
  /** Unattached uploads created before `before` (ms), at most `limit`. */
  staleUploads(before: number, limit: number): Promise<string[]>;
  deleteUpload(id: string): Promise<void>;
  /**
   * Whether `userId` may read upload `id`: its uploader, or someone who sees the message it is
   * attached to under the feed's rule (a member from when they joined, a former member up to
   * when they left), while that message is not deleted.
   */
  canReadUpload(userId: string, id: string): Promise<boolean>;
}
