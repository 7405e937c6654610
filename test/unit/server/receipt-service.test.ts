import { describe, expect, it } from 'vitest';
import type { Bus } from '../../../packages/server/src/bus/bus.js';
import type { Logger } from '../../../packages/server/src/logger.js';
import { ReceiptService } from '../../../packages/server/src/receipts/receipt-service.js';
import type { ConversationStore, CursorRow, MessageStore } from '../../../packages/server/src/store/store.js';

/** Conversation and message stores where user `u1` is a member of `c_real` only; it records delivered writes. */
function fakeStore() {
  const writes: { conversationId: string; userId: string; seq: number }[] = [];
  let memberReads = 0;
  const store = {
    async getMember(conversationId: string, userId: string) {
      memberReads++;
      return conversationId === 'c_real' && userId === 'u1' ? { conversationId, userId } : null;
    },
    async setDeliveredSeqs(
      entries: { conversationId: string; userId: string; seq: number }[],
    ): Promise<CursorRow[]> {
      writes.push(...entries);
      return [];
    },
    async listMembers() {
      return [];
    },
  };
  return {
    conversations: store as unknown as ConversationStore,
    messages: store as unknown as MessageStore,
    writes,
    reads: () => memberReads,
  };
}

const bus = { publish() {} } as unknown as Bus;
const log = { warn() {} } as unknown as Logger;

describe('ReceiptService.delivered', () => {
  it('queues receipts only for conversations the user is a member of', async () => {
    const { conversations, messages, writes, reads } = fakeStore();
    const receipts = new ReceiptService(conversations, messages, bus, log, 60_000);
    for (let i = 0; i < 1000; i++) receipts.delivered('u1', `c_made_up_${i}`, 1);
    receipts.delivered('u1', 'c_real', 3);
    receipts.delivered('u1', 'c_real', 5);
    await new Promise((r) => setTimeout(r, 10));
    receipts.delivered('u1', 'c_real', 4);
    await receipts.close();
    expect(writes).toEqual([{ conversationId: 'c_real', userId: 'u1', seq: 5 }]);
    // One check per pair, not per receipt.
    expect(reads()).toBe(1001);
  });
});
