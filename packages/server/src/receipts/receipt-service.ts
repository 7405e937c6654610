import type { ReceiptsFrame } from '@parley/protocol';
import type { ReceiptCursor } from '@parley/protocol';
import type { Bus } from '../bus/bus.js';
import type { Logger } from '../logger.js';
import type { ConversationStore, CursorRow, MessageStore } from '../store/store.js';

/** How long a checked membership lets receipts of the pair skip the store read, ms. */
const MEMBER_TTL_MS = 60_000;
/** Most memberships remembered; past it the memory starts over. */
const MEMBER_CACHE_MAX = 100_000;

/**
 * Delivered and read receipts. Devices report "delivered up to seq N" for every message they
 * get; these are coalesced in memory (one cursor per member per conversation) and written in
 * one batch per interval, so receipts cost no store write per message. Cursor moves are
 * published to the conversation's members in one `receipts` frame per conversation per flush.
 */
export class ReceiptService {
  private pending = new Map<string, { conversationId: string; userId: string; seq: number }>();
  private moved = new Map<string, CursorRow>();
  /** Pairs (conversation, user) found to be members, with when they were checked. */
  private members = new Map<string, number>();
  /** Receipts waiting for their membership check, by pair: the highest seq reported. */
  private checking = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly conversations: ConversationStore,
    private readonly messages: MessageStore,
    private readonly bus: Bus,
    private readonly log: Logger,
    /** Receipt batching interval in ms. Default 200. */
    flushMs = 200,
  ) {
    this.timer = setInterval(() => {
      this.flushing = this.flush();
    }, flushMs).unref();
  }

  /**
   * A device of `userId` has every message of the conversation up to `seq`. Queued only once
   * the user is found to be a member, so made-up conversation ids cost one read, never a write.
   */
  delivered(userId: string, conversationId: string, seq: number): void {
    const key = `${conversationId}\u0000${userId}`;
    const cur = this.pending.get(key);
    if (cur) {
      if (seq > cur.seq) cur.seq = seq;
      return;
    }
    const checkedAt = this.members.get(key);
    if (checkedAt !== undefined && Date.now() - checkedAt < MEMBER_TTL_MS) {
      this.pending.set(key, { conversationId, userId, seq });
      return;
    }
    const waiting = this.checking.get(key);
    if (waiting !== undefined) {
      if (seq > waiting) this.checking.set(key, seq);
      return;
    }
    this.checking.set(key, seq);
    this.conversations.getMember(conversationId, userId).then(
      (member) => {
        const top = this.checking.get(key) ?? seq;
        this.checking.delete(key);
        if (!member) return;
        if (this.members.size >= MEMBER_CACHE_MAX) this.members.clear();
        this.members.set(key, Date.now());
        const c = this.pending.get(key);
        if (!c) this.pending.set(key, { conversationId, userId, seq: top });
        else if (top > c.seq) c.seq = top;
      },
      (err: unknown) => {
        this.checking.delete(key);
        this.log.warn({ err }, 'could not check a delivered receipt');
      },
    );
  }

  /** A read cursor moved (already stored by the caller): include it in the next broadcast. */
  readMoved(row: CursorRow): void {
    this.moved.set(`${row.conversationId}\u0000${row.userId}`, row);
  }

  private async flush(): Promise<void> {
    const entries = [...this.pending.values()];
    this.pending = new Map();
    if (entries.length > 0) {
      try {
        for (const row of await this.messages.setDeliveredSeqs(entries)) {
          const key = `${row.conversationId}\u0000${row.userId}`;
          const prev = this.moved.get(key);
          this.moved.set(key, prev ? { ...row, readSeq: Math.max(row.readSeq, prev.readSeq) } : row);
        }
      } catch (err) {
        this.log.warn({ err }, 'could not store delivered receipts');
      }
    }
    if (this.moved.size === 0) return;
    const byConversation = new Map<string, ReceiptCursor[]>();
    for (const r of this.moved.values()) {
      const list = byConversation.get(r.conversationId) ?? [];
      list.push({ userId: r.userId, deliveredSeq: Math.max(r.deliveredSeq, r.readSeq), readSeq: r.readSeq });
      byConversation.set(r.conversationId, list);
    }
    this.moved = new Map();
    for (const [conversationId, cursors] of byConversation) {
      try {
        const members = (await this.conversations.listMembers(conversationId)).map((m) => m.userId);
        const frame: ReceiptsFrame = { type: 'receipts', conversationId, cursors };
        this.bus.publish({ type: 'deliver', userIds: members, frame: JSON.stringify(frame) });
      } catch (err) {
        this.log.warn({ err }, 'could not publish receipts');
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
    await this.flush();
  }
}
