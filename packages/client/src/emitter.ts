/** A small typed event emitter that runs in browsers and Node alike. */

/** Receives one event's payload. */
export type Handler<T> = (payload: T) => void;

export class Emitter<Events extends object> {
  // Copy-on-write arrays: emit() iterates without allocating, and a handler that adds or
  // removes handlers does not disturb the emit in progress.
  #handlers = new Map<keyof Events, readonly Handler<never>[]>();

  /** Call `handler` on every `event`; returns a function that removes it. */
  on<K extends keyof Events>(event: K, handler: Handler<Events[K]>): () => void {
    const list = this.#handlers.get(event) ?? [];
    this.#handlers.set(event, [...list, handler as Handler<never>]);
    return () => this.off(event, handler);
  }

  /** Remove a handler added with `on` (the first registration, if added twice). */
  off<K extends keyof Events>(event: K, handler: Handler<Events[K]>): void {
    const list = this.#handlers.get(event);
    if (list === undefined) return;
    const i = list.indexOf(handler as Handler<never>);
    if (i < 0) return;
    const next = [...list.slice(0, i), ...list.slice(i + 1)];
    if (next.length === 0) this.#handlers.delete(event);
    else this.#handlers.set(event, next);
  }

  /** Call `handler` on the next `event` only; returns a function that removes it. */
  once<K extends keyof Events>(event: K, handler: Handler<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      handler(payload);
    });
    return off;
  }

  /**
   * Call every handler of `event`. A handler that throws does not stop the others or the
   * caller: the error is rethrown in a microtask, where the host reports it like any
   * uncaught error (as EventTarget does).
   */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const list = this.#handlers.get(event) as readonly Handler<Events[K]>[] | undefined;
    if (list === undefined) return;
    for (const handler of list) {
      try {
        handler(payload);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
