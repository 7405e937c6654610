import {
  MAX_FORWARD_TARGETS,
  MAX_HISTORY_PAGE,
  MAX_SYNC_PAGE,
  MAX_TEXT_BYTES,
  MAX_TEXT_CODE_POINTS,
  ParleyError,
  firstUrl,
  codePointLength,
} from '@parley/protocol';
import type {
  Ack,
  AttachmentRef,
  ForwardResult,
  HistoryPage,
  LinkPreview,
  Message,
  MessageAction,
  MessageListPage,
  MessageReceipts,
  ReadCursorFrame,
  SyncPage,
} from '@parley/protocol';
import type { Bus } from '../bus/bus.js';
import { SendPipeline } from './send-pipeline.js';
import { ulid } from '../ids.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { ConversationStore, MessageStore, NewMessage } from '../store/store.js';
import type { ConversationService } from '../conversations/conversation-service.js';
import type { ReceiptService } from '../receipts/receipt-service.js';
import type { AttachmentService } from '../attachments/attachment-service.js';
import { withoutImage } from '../previews/link-preview.js';
import type { LinkPreviewer } from '../previews/link-preview.js';
import {
  advance,
  clampToHead,
  formatCursor,
  highestPosition,
  isPastHead,
  parseCursor,
} from '../store/common/feed-cursor.js';

export interface MessageServiceOptions {
  /** Most sends committed in one transaction. Default 512. */
  maxBatch?: number;
  /**
   * Batches handed to the store before the first of them is committed. Default 1, so that one
   * client's sends are never committed out of order. The app gives 2 where the store commits
   * appends in call order (`capabilities.orderedAppends`): the store starts on the next batch
   * while this thread fans out the last one.
   */
  maxInFlight?: number;
  /**
   * Serialized JSON bytes after which a history or sync page takes no more messages (it
   * always has at least one, and says `hasMore`). Default 1 MiB.
   */
  maxPageBytes?: number;
  /** Sends per second per user, WebSocket and HTTP together, sustained and burst. Default: no limit. */
  sendRatePerSec?: number;
  sendBurst?: number;
  /** Bytes of message text (UTF-8) per second per user, sustained and burst. Default: no limit. */
  sendBytesPerSec?: number;
  sendBytesBurst?: number;
  /** The store's position spaces (`capabilities.positionSpaces`). Default 1. */
  positionSpaces?: number;
}

/** Default of `maxPageBytes`: 1 MiB. */
export const DEFAULT_MAX_PAGE_BYTES = 1024 * 1024;

/**
 * Rows to read next for a page capped at `maxBytes`: `first` before any row was seen, then as
 * many as the budget left holds at the average size so far, never more than `most` (which
 * bounds the memory one read can take whatever the rows weigh).
 */
export function nextReadSize(
  want: number,
  rows: number,
  bytes: number,
  maxBytes: number,
  first: number,
  most: number,
): number {
  if (rows === 0) return Math.max(1, Math.min(want, first));
  const fit = Math.ceil(Math.max(0, maxBytes - bytes) / Math.max(1, bytes / rows));
  return Math.max(1, Math.min(want, most, fit));
}

/**
 * Rows of the first history read of a page (small: rows can be 600 KB of JSON each), and most
 * rows of any history read.
 */
const HISTORY_FIRST_READ_ROWS = 8;
const HISTORY_MOST_READ_ROWS = 50;
/** Rows of the first feed read of a page, and most rows of any feed read. */
const FEED_FIRST_READ_ROWS = 32;
export const FEED_MOST_READ_ROWS = 200;

/** A list read from a route's query: `limit` 1-200 (default 50). */
function listRead(q: { before?: string; limit?: number }): { before?: string; limit: number } {
  const limit = Math.min(Math.max(q.limit ?? 50, 1), MAX_HISTORY_PAGE);
  return q.before === undefined ? { limit } : { before: q.before, limit };
}

/**
 * Validate message text: 1-99,999 code points and at most 256 KiB of UTF-8, not only
 * whitespace, no U+0000. A caption (`captioned`: the message has attachments) may be empty.
 */
export function checkText(text: string, captioned = false): void {
  if (!captioned && text.trim().length === 0) throw new ParleyError('text_empty');
  // PostgreSQL text cannot hold NUL; refused everywhere, so both stores take the same texts.
  if (text.includes('\u0000')) throw new ParleyError('invalid_field', 'text must not contain U+0000 (NUL)');
  // Cheap bound first: a string can't have more code points than UTF-16 units.
  if (text.length > MAX_TEXT_CODE_POINTS && codePointLength(text) > MAX_TEXT_CODE_POINTS) {
    throw new ParleyError('text_too_long');
  }
  // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair 4), so short texts need no count.
  if (text.length * 3 > MAX_TEXT_BYTES && Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) {
    throw new ParleyError(
      'text_too_long',
      `Message text exceeds ${MAX_TEXT_BYTES.toLocaleString('en')} bytes of UTF-8`,
    );
  }
}

/**
 * Messages: sends and actions (validated here, committed by the `SendPipeline`), forwards,
 * the lists of pins, mentions and saved messages, history, the feed and read cursors.
 */
export class MessageService {
  private readonly maxPageBytes: number;
  private readonly positionSpaces: number;
  /** Set by the app: claims the uploads a send names. */
  attachments: AttachmentService | undefined;
  /** Set by the app: the previews a send with `preview: true` takes from (never fetched then). */
  previews: Pick<LinkPreviewer, 'cached'> | undefined;
  /** Set by the app once receipts exist (they publish read cursors to members). */
  receipts: ReceiptService | undefined;
  /** The batches every send and action goes through (the app sets its `push` and `pushJobs`). */
  readonly pipeline: SendPipeline;

  constructor(
    private readonly messages: MessageStore,
    private readonly conversationStore: ConversationStore,
    private readonly bus: Bus,
    private readonly conversations: ConversationService,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    opts: MessageServiceOptions = {},
  ) {
    this.pipeline = new SendPipeline(messages, conversationStore, bus, conversations, metrics, log, opts);
    this.maxPageBytes = Math.max(1, opts.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES);
    this.positionSpaces = Math.max(1, opts.positionSpaces ?? 1);
  }

  /**
   * Store a message (or find the one already stored with this client id) and fan it out.
   * Throws `rate_limited` past the sender's send or byte rate.
   */
  send(
    senderId: string,
    conversationId: string,
    clientId: string,
    text: string,
    opts: {
      replyTo?: number;
      forwarded?: boolean;
      attachments?: readonly AttachmentRef[];
      preview?: boolean;
    } = {},
  ): Promise<Ack> {
    const refs = opts.attachments;
    checkText(text, refs !== undefined && refs.length > 0);
    const msg: NewMessage = { id: ulid(), conversationId, senderId, clientId, text, createdAt: Date.now() };
    if (opts.replyTo !== undefined) msg.replyTo = opts.replyTo;
    if (opts.forwarded) msg.forwarded = true;
    if (opts.preview) {
      const preview = this.cachedPreview(text);
      if (preview) msg.preview = preview;
    }
    if (refs === undefined || refs.length === 0) return this.pipeline.enqueue(msg);
    return this.sendWithAttachments(msg, refs);
  }

  /** The previewer's remembered preview of the text's first URL, without its image. */
  private cachedPreview(text: string): LinkPreview | undefined {
    const url = firstUrl(text);
    const found = url === null ? null : (this.previews?.cached(url) ?? null);
    return found === null ? undefined : withoutImage(found);
  }

  /**
   * Claim the uploads for this message first (a resend claims them again), then append. A
   * message the store refused for its conversation frees them; any other failure keeps the
   * claim, as the message may be stored (a resend answers it).
   */
  private async sendWithAttachments(msg: NewMessage, refs: readonly AttachmentRef[]): Promise<Ack> {
    const attachments = this.attachments;
    if (!attachments) throw new ParleyError('invalid_field', 'attachments are not accepted here');
    if (msg.clientId.includes('\u0000')) {
      throw new ParleyError('invalid_field', 'clientId must not contain U+0000 (NUL)');
    }
    msg.attachments = await attachments.claim(msg.senderId, msg.conversationId, msg.clientId, refs);
    try {
      return await this.pipeline.enqueue(msg);
    } catch (err) {
      if (err instanceof ParleyError && (err.code === 'not_found' || err.code === 'blocked')) {
        attachments.release(msg.senderId, msg.conversationId, msg.clientId);
      }
      throw err;
    }
  }

  /**
   * Act on a message: stored as an event through the same batches as sends (idempotent by
   * client id, acked after commit, fanned out with its own seq and position). The store
   * applies the rules (message-rules.ts) and folds it into its target.
   */
  act(userId: string, conversationId: string, clientId: string, action: MessageAction): Promise<Ack> {
    if (action.kind === 'edit') checkText(action.text);
    const text =
      action.kind === 'edit'
        ? action.text
        : action.kind === 'react' || action.kind === 'unreact'
          ? action.emoji
          : '';
    return this.pipeline.enqueue({
      id: ulid(),
      conversationId,
      senderId: userId,
      clientId,
      text,
      createdAt: Date.now(),
      kind: action.kind,
      target: action.target,
    });
  }

  /**
   * Forward content message `seq` of a conversation to others: one new message marked
   * forwarded in each, client id `<clientId>:<i>` per target. A target answers alone.
   */
  async forward(
    userId: string,
    conversationId: string,
    clientId: string,
    seq: number,
    to: readonly string[],
  ): Promise<ForwardResult> {
    const targets = [...new Set(to)];
    if (targets.length === 0 || targets.length > MAX_FORWARD_TARGETS) {
      throw new ParleyError('invalid_field', `to must name 1-${MAX_FORWARD_TARGETS} conversations`);
    }
    const source = await this.messages.messageAt(conversationId, seq, userId);
    if (!source) throw new ParleyError('not_found', 'No such message');
    if (source.deleted) throw new ParleyError('message_deleted');
    const results = await Promise.all(
      targets.map((target, i) =>
        this.send(userId, target, `${clientId}:${i}`, source.text, { forwarded: true }).then(
          (ack) => ({ ok: true as const, ack }),
          (err: unknown) => ({
            ok: false as const,
            conversationId: target,
            code: err instanceof ParleyError ? err.code : ('internal' as const),
          }),
        ),
      ),
    );
    return { results };
  }

  /** Pinned messages of a conversation I am in. */
  async pins(userId: string, conversationId: string): Promise<{ messages: Message[] }> {
    await this.conversations.requireMember(conversationId, userId);
    return { messages: await this.messages.pinned(conversationId, userId) };
  }

  /** Messages that mention me, newest first. */
  mentions(userId: string, q: { before?: string; limit?: number }): Promise<MessageListPage> {
    return this.messages.mentionsOf(userId, listRead(q));
  }

  /** Wait for queued sends to be committed and acked (graceful shutdown). */
  drain(): Promise<void> {
    return this.pipeline.drain();
  }

  /** Messages I saved, most recently saved first. */
  saved(userId: string, q: { before?: string; limit?: number }): Promise<MessageListPage> {
    return this.messages.savedOf(userId, listRead(q));
  }

  /**
   * A page of history as the JSON text of a HistoryPage, serialized by the store (the read
   * path of scrolling back: no row becomes an object on the way to the socket). A page stops
   * taking messages once it holds `maxPageBytes`, so it is at most that plus one message;
   * such a page is read in several smaller store reads, re-serialized row by row.
   */
  async historyJson(
    userId: string,
    conversationId: string,
    q: { before?: number; after?: number; limit?: number },
  ): Promise<string> {
    const limit = Math.min(Math.max(q.limit ?? 50, 1), MAX_HISTORY_PAGE);
    const forwards = q.after !== undefined;
    let at = forwards ? q.after : q.before;
    const rows: string[] = [];
    let bytes = 0;
    for (;;) {
      const n = nextReadSize(
        limit - rows.length,
        rows.length,
        bytes,
        this.maxPageBytes,
        HISTORY_FIRST_READ_ROWS,
        HISTORY_MOST_READ_ROWS,
      );
      const opts: { before?: number; after?: number; limit: number } = { limit: n };
      if (forwards) opts.after = at;
      else if (at !== undefined) opts.before = at;
      const json =
        (await this.messages.historyJson(conversationId, userId, opts)) ??
        (await this.conversations.leftHistoryJson(conversationId, userId, opts));
      if (json === null) throw new ParleyError('not_found', 'No such conversation');
      // The common page: one read that fits, passed on as the store wrote it.
      if (rows.length === 0 && n === limit && Buffer.byteLength(json) <= this.maxPageBytes) return json;
      const page = JSON.parse(json) as HistoryPage;
      // Take rows from the page's start outwards: oldest first forwards, newest first backwards.
      const msgs = forwards ? page.messages : page.messages.slice().reverse();
      let full = false;
      for (const m of msgs) {
        if (rows.length > 0 && bytes >= this.maxPageBytes) {
          full = true;
          break;
        }
        const row = JSON.stringify(m);
        rows.push(row);
        bytes += Buffer.byteLength(row) + 1;
        at = m.seq;
      }
      const more = full || page.hasMore;
      if (!more || rows.length >= limit || bytes >= this.maxPageBytes) {
        if (!forwards) rows.reverse();
        return `{"messages":[${rows.join(',')}],"hasMore":${more}}`;
      }
    }
  }

  /**
   * A page of the user's feed after the cursor `since` (a legacy number is a position). A
   * `since` past the head in a position space (a cursor from before the data went back to an
   * older backup) counts as that space's head, so the poller carries on from there instead
   * of waiting for the feed to pass its old cursor. Throws `invalid_field` for a bad cursor.
   */
  async sync(userId: string, since: string | number, limit?: number): Promise<SyncPage> {
    const n = Math.min(Math.max(limit ?? MAX_SYNC_PAGE, 1), MAX_SYNC_PAGE);
    const start = parseCursor(since, this.positionSpaces);
    let from = new Map(start);
    const read = (k: number) =>
      this.messages.readFeed(
        userId,
        from,
        nextReadSize(k, 0, 0, this.maxPageBytes, FEED_FIRST_READ_ROWS, FEED_MOST_READ_ROWS),
      );
    let page = await read(n);
    // With one space a page with messages proves `since` is below the head; with several, a
    // space past its head hides behind the others' messages until the feed is read to its end.
    if (page.messages.length === 0 || (this.positionSpaces > 1 && !page.hasMore)) {
      // Answering `since` itself skips nothing committed after the page was read (answering a
      // head read later could). Past the head, read again from the head: it was read first,
      // so whatever is committed meanwhile is above it.
      const head = await this.messages.feedHead(userId);
      if (isPastHead(start, head)) {
        from = clampToHead(start, head);
        page = await read(n);
      }
    }
    const messages: Message[] = [];
    let bytes = 0;
    for (;;) {
      let full = false;
      for (const m of page.messages) {
        if (messages.length > 0 && bytes >= this.maxPageBytes) {
          full = true;
          break;
        }
        messages.push(m);
        // The frame as the client gets it; a sync page has the same rows.
        bytes += Buffer.byteLength(JSON.stringify(m)) + 1;
        advance(from, m.pos, this.positionSpaces);
      }
      const more = full || page.hasMore;
      if (!more || messages.length >= n || bytes >= this.maxPageBytes) {
        return { messages, pos: highestPosition(from), cursor: formatCursor(from), hasMore: more };
      }
      const k = nextReadSize(
        n - messages.length,
        messages.length,
        bytes,
        this.maxPageBytes,
        FEED_FIRST_READ_ROWS,
        FEED_MOST_READ_ROWS,
      );
      page = await this.messages.readFeed(userId, from, k);
    }
  }

  /** Move my read cursor; my other devices hear of it now, the members with the next receipts batch. */
  async markRead(userId: string, conversationId: string, seq: number): Promise<number> {
    const member = await this.conversations.requireMember(conversationId, userId);
    const newSeq = await this.messages.setReadSeq(conversationId, userId, seq);
    if (newSeq > member.readSeq) {
      const frame: ReadCursorFrame = { type: 'read', conversationId, userId, seq: newSeq };
      this.bus.publish({ type: 'deliver', userIds: [userId], frame: JSON.stringify(frame) });
      this.receipts?.readMoved({
        conversationId,
        userId,
        readSeq: newSeq,
        deliveredSeq: Math.max(newSeq, member.deliveredSeq),
      });
    }
    return newSeq;
  }

  /** Who has message `seq` delivered and read (the sender excluded). */
  async whoHas(userId: string, conversationId: string, seq: number): Promise<MessageReceipts> {
    await this.conversations.requireMember(conversationId, userId);
    const [message] = (await this.messages.history(conversationId, { after: seq - 1, limit: 1 })).messages;
    if (!message || message.seq !== seq) throw new ParleyError('not_found', 'No such message');
    const members = (await this.conversationStore.listMembers(conversationId)).filter(
      (m) => m.userId !== message.senderId,
    );
    return {
      seq,
      delivered: members.filter((m) => m.deliveredSeq >= seq).map((m) => m.userId),
      read: members.filter((m) => m.readSeq >= seq).map((m) => m.userId),
    };
  }
}
