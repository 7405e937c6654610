import { ParleyError } from '@parley/protocol';
import type { TypingIndicatorFrame } from '@parley/protocol';
import type { Bus } from '../bus/bus.js';
import type { ConversationStore, SocialStore } from '../store/store.js';

/**
 * Typing indicators: relayed to a conversation's other members, never stored. A member of a
 * direct conversation with someone they blocked (or who blocked them) relays nothing.
 */
export class TypingService {
  constructor(
    private readonly conversations: ConversationStore,
    private readonly social: SocialStore,
    private readonly bus: Bus,
    /** How long clients show the indicator without a refresh, ms (sent as `ttlMs`). */
    private readonly ttlMs: number,
  ) {}

  /** `userId` is typing in the conversation. Throws `not_found` when they are not a member. */
  async typing(userId: string, conversationId: string): Promise<void> {
    const members = (await this.conversations.listMembers(conversationId)).map((m) => m.userId);
    if (!members.includes(userId)) throw new ParleyError('not_found', 'No such conversation');
    const others = members.filter((u) => u !== userId);
    if (others.length === 1 && (await this.social.isBlockedEither(userId, others[0] as string))) {
      const conv = await this.conversations.getConversation(conversationId);
      if (conv?.kind === 'direct') return;
    }
    const frame: TypingIndicatorFrame = { type: 'typing', conversationId, userId, ttlMs: this.ttlMs };
    this.bus.publish({ type: 'deliver', userIds: others, frame: JSON.stringify(frame) });
  }
}
