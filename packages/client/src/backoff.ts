/** Reconnect and resend delays. */

/** Bounds of the exponential backoff. */
export interface BackoffOptions {
  /** Cap of the first delay, in ms. Default 250. */
  baseDelayMs?: number;
  /** Largest delay, in ms, however many attempts failed. Default 10_000. */
  maxDelayMs?: number;
}

/** Default first-delay cap, in ms. */
export const DEFAULT_BASE_DELAY_MS = 250;
/** Default largest delay, in ms. */
export const DEFAULT_MAX_DELAY_MS = 10_000;

/**
 * Delay before retry number `attempt` (0 for the first retry), in ms.
 *
 * Full jitter: a uniform pick in `[0, min(maxDelayMs, baseDelayMs * 2^attempt))`. Spreading
 * retries over the whole window keeps thousands of clients that lost the same server from
 * reconnecting in lockstep; see "Exponential Backoff And Jitter", AWS Architecture Blog
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
 *
 * @param random returns a number in [0, 1); default `Math.random`.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const base = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  const max = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  // 2 ** attempt becomes Infinity for huge attempts; Math.min keeps the cap.
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt));
  return random() * ceiling;
}
