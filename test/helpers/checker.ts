/**
 * One checker for every fault test: given what was sent (and acked) and what each client
 * received, classify every expected delivery as delivered, lost, duplicated, or unexpected,
 * and check per-conversation order.
 */
import type { Ack, Message } from '@parley/client';

export interface SentRecord {
  clientId: string;
  conversationId: string;
  ack?: Ack;
}

export interface CheckReport {
  expected: number;
  delivered: number;
  lost: Array<{ client: string; clientId: string }>;
  duplicated: Array<{ client: string; clientId: string }>;
  unexpected: Array<{ client: string; clientId: string }>;
  /** Clients whose messages in some conversation are not in increasing seq order. */
  outOfOrder: string[];
  /** Acks that disagree with what was delivered (same clientId, other seq or id). */
  mismatched: string[];
}

/**
 * @param sent every send, with its ack if it was acked
 * @param clients each client's name, the user it belongs to, and the messages it received
 * @param members conversation id → member user ids
 */
export function check(
  sent: readonly SentRecord[],
  clients: ReadonlyArray<{ name: string; userId: string; received: readonly Message[] }>,
  members: ReadonlyMap<string, readonly string[]>,
): CheckReport {
  const report: CheckReport = {
    expected: 0,
    delivered: 0,
    lost: [],
    duplicated: [],
    unexpected: [],
    outOfOrder: [],
    mismatched: [],
  };
  const acked = sent.filter((s) => s.ack !== undefined);
  const byClientId = new Map(acked.map((s) => [s.clientId, s]));
  for (const c of clients) {
    const counts = new Map<string, number>();
    const lastSeq = new Map<string, number>();
    let ordered = true;
    for (const m of c.received) {
      counts.set(m.clientId, (counts.get(m.clientId) ?? 0) + 1);
      const last = lastSeq.get(m.conversationId) ?? 0;
      if (m.seq <= last) ordered = false;
      lastSeq.set(m.conversationId, m.seq);
      const s = byClientId.get(m.clientId);
      if (s?.ack && (s.ack.seq !== m.seq || s.ack.id !== m.id)) report.mismatched.push(m.clientId);
      // A message nobody acked is fine only if it was sent (an ack lost with a dead server).
      if (!s && !sent.some((x) => x.clientId === m.clientId))
        report.unexpected.push({ client: c.name, clientId: m.clientId });
    }
    if (!ordered) report.outOfOrder.push(c.name);
    for (const s of acked) {
      if (!(members.get(s.conversationId) ?? []).includes(c.userId)) continue;
      report.expected++;
      const n = counts.get(s.clientId) ?? 0;
      if (n === 0) report.lost.push({ client: c.name, clientId: s.clientId });
      else if (n > 1) report.duplicated.push({ client: c.name, clientId: s.clientId });
      else report.delivered++;
    }
  }
  return report;
}

/** A short summary for assertion messages. */
export function summary(r: CheckReport): string {
  return JSON.stringify({
    expected: r.expected,
    delivered: r.delivered,
    lost: r.lost.length,
    duplicated: r.duplicated.length,
    unexpected: r.unexpected.length,
    outOfOrder: r.outOfOrder.length,
    mismatched: r.mismatched.length,
    firstLost: r.lost.slice(0, 3),
  });
}
