import type { Bus, BusCapabilities, BusEvent, BusHandler } from '../bus.js';

/** The in-process bus: every event goes synchronously to every local subscriber. */
export class MemoryBus implements Bus {
  readonly capabilities: BusCapabilities = { routed: false };
  private readonly handlers = new Set<BusHandler>();

  publish(event: BusEvent): void {
    for (const h of this.handlers) h(event);
  }

  /** Delivered synchronously by `publish`. */
  flushed(): Promise<void> {
    return Promise.resolve();
  }

  subscribe(handler: BusHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
