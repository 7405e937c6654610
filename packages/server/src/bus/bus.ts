/**
 * The fan-out bus between the code that stores things and the chat servers holding the
 * recipients' connections: in-process (`memory/`) in one process, Redis in cluster mode.
 * The store is the truth and the bus a hint: anything lost on the bus is recovered by
 * catch-up from the store.
 */

export type BusEvent =
  /**
   * Send a serialized server frame to every connected device of these users. `pos` is set for
   * message frames: a connection that already has that feed position skips the frame, and
   * one still catching up holds it until catch-up reaches it.
   */
  | { type: 'deliver'; userIds: readonly string[]; frame: string; pos?: number }
  /** Close the sockets of these devices (logout, revocation). */
  | { type: 'revoke'; deviceIds: readonly string[] };

export type BusHandler = (event: BusEvent) => void;

export interface Bus {
  /** Publish an event; delivery is best effort. */
  publish(event: BusEvent): void;
  /** Receive events relevant to this process. Returns an unsubscribe function. */
  subscribe(handler: BusHandler): () => void;
  close(): Promise<void>;
}
