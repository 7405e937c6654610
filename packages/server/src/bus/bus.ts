/**
 * The fan-out bus between the code that stores things and the chat servers holding the
 * recipients' connections: in-process (`memory/`) in one process, Redis (`redis/`) in
 * cluster mode. The store is the truth and the bus a hint: anything lost on the bus is
 * recovered by catch-up from the store.
 */

export type BusEvent =
  /**
   * Send a serialized server frame to every connected device of these users. `pos` is set for
   * message frames, with `prev` (same order as `userIds`): each user's previous feed position
   * in the position space of `pos`. A connection writes each space of its feed in order: a
   * frame whose `prev` is not what it delivered last in that space waits for the missing one
   * (or a store read fills the gap). Chat servers add each connection's cursor to the frame.
   */
  | { type: 'deliver'; userIds: readonly string[]; frame: string; pos?: number; prev?: readonly number[] }
  /**
   * Message frames for these users may have been lost on the way (a publisher died between
   * its commit and its publish, or dropped events): their connections re-read their feed
   * from the store after what they delivered.
   */
  | { type: 'recheck'; userIds: readonly string[] }
  /** Close the sockets of these devices (logout, revocation). */
  | { type: 'revoke'; deviceIds: readonly string[] }
  /**
   * Local only, from the bus itself: events may have been lost (the bus reconnected), so
   * every live connection should re-read its feed from the store.
   */
  | { type: 'resync' };

export type BusHandler = (event: BusEvent) => void;

/** What a bus adapter does; callers branch on capabilities, never on the adapter's kind. */
export interface BusCapabilities {
  /**
   * `deliver` events reach only the servers where `attach` registered the target users
   * (Redis). False: every event reaches every subscriber and attach/detach do nothing.
   */
  readonly routed: boolean;
}

export interface Bus {
  readonly capabilities: BusCapabilities;
  /** Publish an event; delivery is best effort and never throws. */
  publish(event: BusEvent): void;
  /**
   * Resolves once every event published so far has left this process (or was dropped, its
   * users then getting a `recheck` once the bus works again). A send is acked only after
   * its fan-out has left, so a crash never leaves an acked message that nobody was told of.
   */
  flushed(): Promise<void>;
  /** Receive events relevant to this process. Returns an unsubscribe function. */
  subscribe(handler: BusHandler): () => void;
  /** Route a user's events to this process (their first local connection opened). Never rejects. */
  attach?(userId: string): Promise<void>;
  /** Stop routing a user's events here (their last local connection closed). */
  detach?(userId: string): Promise<void>;
  /** Resolves once connected and subscribed. */
  ready?(): Promise<void>;
  close(): Promise<void>;
}
