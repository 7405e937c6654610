/**
 * An open-loop schedule for a side workload (searches, history pages, uploads): `rate` calls
 * per second from `from` until `until`, whatever the answers do; a call due while
 * `maxInFlight` are out is skipped and counted, not queued.
 */
import { now } from '../clock.js';

export interface OpenLoopResult {
  /** Calls due in the window, skipped ones included. */
  started: number;
  skipped: number;
  /** Calls still out when the window closed. */
  pending: Set<Promise<void>>;
}

/** `fire(n)` makes call number n; it records its own outcome and must not reject. */
export async function openLoop(
  rate: number,
  from: number,
  until: number,
  maxInFlight: number,
  fire: (n: number) => Promise<void>,
): Promise<OpenLoopResult> {
  const pending = new Set<Promise<void>>();
  let started = 0;
  let skipped = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const t = now();
      if (t >= until) {
        clearInterval(timer);
        resolve();
        return;
      }
      const due = Math.floor(((t - from) * rate) / 1000) - started;
      for (let k = 0; k < due; k++) {
        const n = started++;
        if (pending.size >= maxInFlight) {
          skipped++;
          continue;
        }
        const p = fire(n).finally(() => pending.delete(p));
        pending.add(p);
      }
    }, 1);
  });
  return { started, skipped, pending };
}
