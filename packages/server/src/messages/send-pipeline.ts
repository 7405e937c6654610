import { ParleyError } from '@parley/protocol';
import type { Ack, Message, MessageFrame } from '@parley/protocol';
import type { Bus } from '../bus/bus.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { KeyedBuckets } from '../rate-limit.js';
import type {
  AppendResult,
  ConversationStore,
  MessageStore,
  NewMessage,
  PushQueueStore,
} from '../store/store.js';
import type { ConversationService } from '../conversations/conversation-service.js';
import type { PushService } from '../push/push-service.js';
import { mentionedIds } from './mentions.js';
import type { AttachmentService } from '../attachments/attachment-service.js';
import type { MessageServiceOptions } from './message-service.js';

interface Pending {
  msg: NewMessage;
  resolve: (ack: Ack) => void;
  reject: (err: unknown) => void;
}

/**
 * The send path, and the only owner of its queue: group-commit to the store (every send
 * arriving in one event-loop turn shares one transaction), fan out once per message with a
 * frame serialized once for every recipient device, and ack once that fan-out has left.
 */
export class SendPipeline {
  private queue: Pending[] = [];
  private scheduled = false;
  /** Batches handed to the store and not yet answered. */
  private readonly inFlight = new Set<Promise<void>>();
  /** Committed batches whose acks wait for their fan-out to leave. */
  private readonly acking = new Set<Promise<void>>();
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  /** Per user, over all of their devices and sockets (in this process). */
  private readonly sendsPerUser: KeyedBuckets;
  private readonly bytesPerUser: KeyedBuckets;
  /** Since when `storeBusy` has not counted the time batches were with the store. */
  private busyMark = 0;
  /** Set by the app: told of every new message after its ack and fan-out (never awaited). */
  push: PushService | undefined;
  /** Set by the app with push: the queue whose jobs a delete for everyone drops. */
  pushJobs: Pick<PushQueueStore, 'dropMessagePushJobs'> | undefined;
  /** Set by the app: removes the files of a message deleted for everyone. */
  attachments: Pick<AttachmentService, 'messageDeleted'> | undefined;

  constructor(
    private readonly messages: MessageStore,
    private readonly conversationStore: ConversationStore,
    private readonly bus: Bus,
    private readonly conversations: ConversationService,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    opts: MessageServiceOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 512;
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 1);
    this.sendsPerUser = new KeyedBuckets(opts.sendRatePerSec ?? Infinity, opts.sendBurst ?? Infinity);
    this.bytesPerUser = new KeyedBuckets(opts.sendBytesPerSec ?? Infinity, opts.sendBytesBurst ?? Infinity);
  }

  /** Queue a send or action for the next batch; throws `rate_limited` past the sender's rates. */
  enqueue(msg: NewMessage): Promise<Ack> {
    const { senderId, clientId, text } = msg;
    if (clientId.includes('\u0000')) {
      throw new ParleyError('invalid_field', 'clientId must not contain U+0000 (NUL)');
    }
    const now = Date.now();
    if (!this.sendsPerUser.take(senderId, now)) throw new ParleyError('rate_limited');
    if (!this.bytesPerUser.take(senderId, now, Buffer.byteLength(text, 'utf8'))) {
      throw new ParleyError('rate_limited', 'Too many bytes of messages; slow down');
    }
    return new Promise<Ack>((resolve, reject) => {
      this.queue.push({ msg, resolve, reject });
      this.schedule();
    });
  }

  /** Resolve the `@username` mentions of the batch's group messages (before they are stored). */
  private async resolveMentions(batch: readonly Pending[]): Promise<void> {
    const mentioning = batch.filter((p) => (p.msg.kind ?? 'text') === 'text' && p.msg.text.includes('@'));
    const byConversation = new Map<string, Pending[]>();
    for (const p of mentioning) {
      const list = byConversation.get(p.msg.conversationId);
      if (list) list.push(p);
      else byConversation.set(p.msg.conversationId, [p]);
    }
    await Promise.all(
      [...byConversation].map(async ([conversationId, sends]) => {
        const first = sends[0] as Pending;
        const conv = await this.conversationStore.getConversation(conversationId);
        if (conv?.kind !== 'group') return;
        // A sender who is not a member is refused by the store; mentions are then moot.
        const members = await this.conversations.members(first.msg.senderId, conversationId).catch(() => []);
        for (const p of sends) {
          const ids = mentionedIds(p.msg.text, members, p.msg.senderId);
          if (ids.length > 0) p.msg.mentions = ids;
        }
      }),
    );
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight.size >= this.maxInFlight) return;
    this.scheduled = true;
    // setImmediate: let every frame already read from sockets join this batch.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Hand batches to the store while fewer than `maxInFlight` are out; each answer pumps again. */
  private pump(): void {
    while (this.queue.length > 0 && this.inFlight.size < this.maxInFlight) {
      const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
      this.queue = this.queue.length <= this.maxBatch ? [] : this.queue.slice(this.maxBatch);
      if (this.inFlight.size === 0) this.busyMark = performance.now();
      const done: Promise<void> = this.commit(batch)
        .catch((err: unknown) => this.log.error({ err }, 'send batch failed'))
        .finally(() => {
          this.inFlight.delete(done);
          // Counted at every answer, so a store that never idles is counted too.
          const now = performance.now();
          this.metrics.storeBusy.inc((now - this.busyMark) / 1000);
          this.busyMark = now;
          this.pump();
        });
      this.inFlight.add(done);
    }
  }

  private async commit(batch: Pending[]): Promise<void> {
    const end = this.metrics.storeWrite.startTimer();
    let results: AppendResult[];
    try {
      await this.resolveMentions(batch);
      results = await this.messages.appendMessages(batch.map((p) => p.msg));
    } catch (err) {
      end();
      this.log.error({ err }, 'store write failed');
      const e = err instanceof ParleyError ? err : new ParleyError('unavailable');
      for (const p of batch) p.reject(e);
      return;
    }
    end();
    this.metrics.batchSize.observe(batch.length);
    // A sharded store answers `unavailable` for the messages of a database it cannot reach.
    const unreached = results.filter((r) => !r.ok && r.code === 'unavailable').length;
    if (unreached > 0)
      this.log.error({ failed: unreached, of: batch.length }, 'store write failed for part of a batch');
    const acks: [Pending, Ack][] = [];
    const resent = new Set<string>();
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as Pending;
      const r = results[i] as AppendResult;
      if (!r.ok) {
        p.reject(new ParleyError(r.code));
        continue;
      }
      const m = r.message;
      if (r.duplicate) {
        this.metrics.duplicates.inc();
        resent.add(m.conversationId);
      } else {
        this.metrics.messagesIn.inc();
        const frame: MessageFrame = { type: 'message', message: m };
        this.bus.publish({
          type: 'deliver',
          userIds: r.recipients,
          frame: JSON.stringify(frame),
          pos: m.pos,
          prev: r.prev,
        });
        if (m.kind === 'delete') this.erasePushes(m);
        if (m.kind !== 'text') {
          // Events send no push and accept no request.
        } else {
          this.push?.stored(m, r.recipients);
        }
        if (m.kind === 'text' && r.recipients.length === 2) {
          this.conversations
            .replied(m.senderId, m.conversationId, r.recipients.length)
            .catch((err: unknown) => this.log.error({ err }, 'accepting a replied request failed'));
        }
      }
      acks.push([
        p,
        {
          // As the client sent it (a store keeps a lone surrogate as U+FFFD).
          clientId: p.msg.clientId,
          conversationId: m.conversationId,
          id: m.id,
          seq: m.seq,
          pos: m.pos,
          createdAt: m.createdAt,
          duplicate: r.duplicate,
        },
      ]);
    }
    // Acked once the fan-out has left this process: a crash before that leaves the sender
    // without an ack, so it sends again, and the resend tells the members to recheck.
    const acked: Promise<void> = this.recheck(resent)
      .then(() => this.bus.flushed())
      .then(() => {
        for (const [p, ack] of acks) p.resolve(ack);
      })
      .finally(() => this.acking.delete(acked));
    this.acking.add(acked);
  }

  /**
   * A resend of a stored message: the server that stored it may have died before its
   * fan-out, so the members' connections re-read their feeds (those that have it skip it).
   */
  private async recheck(conversationIds: ReadonlySet<string>): Promise<void> {
    if (conversationIds.size === 0) return;
    const userIds = new Set<string>();
    await Promise.all(
      [...conversationIds].map(async (id) => {
        try {
          for (const m of await this.conversationStore.listMembers(id)) userIds.add(m.userId);
        } catch (err) {
          this.log.error({ err }, 'members of a resent message could not be read');
        }
      }),
    );
    if (userIds.size > 0) this.bus.publish({ type: 'recheck', userIds: [...userIds] });
  }

  /**
   * A message deleted for everyone (after the commit): its pending push jobs go, with the text
   * they quote, and so do its files.
   */
  private erasePushes(event: Message): void {
    this.messages
      .history(event.conversationId, { after: (event.target as number) - 1, limit: 1 })
      .then(async ({ messages: [target] }) => {
        if (!target || target.seq !== event.target) return;
        await Promise.all([
          this.pushJobs?.dropMessagePushJobs(target.id),
          this.attachments?.messageDeleted(target.senderId, target.conversationId, target.clientId),
        ]);
      })
      .catch((err: unknown) => this.log.error({ err }, 'dropping push jobs of a deleted message failed'));
  }

  /** Wait for queued sends to be committed and acked (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight.size > 0 || this.scheduled || this.acking.size > 0) {
      await Promise.all([...this.inFlight, ...this.acking]);
      await new Promise((r) => setImmediate(r));
    }
  }
}
