/**
 * Lookups answered by bulk calls: the connections a busy server opens (dozens or thousands,
 * when clients reconnect together) cost one store round trip per batch instead of one each.
 * The same key asked for twice while it waits is looked up once.
 *
 * Self-clocking, like a group commit: keys asked for during one event-loop turn go out after
 * it, at once when fewer than `maxInFlight` calls are out; otherwise they wait for one of
 * those to finish and then go together. An idle server answers after one turn, as before; in
 * a reconnect storm, where a busy turn holds only one or two upgrades, batches grow with the
 * store's round-trip time instead of staying one or two keys each.
 */
export class TurnBatch<K, V> {
  private waiting = new Map<K, { resolve: (v: V) => void; reject: (e: unknown) => void }[]>();
  private scheduled = false;
  private inFlight = 0;

  /** `lookup` answers the keys in the order given (nothing, for a batch of writes: V = void). */
  constructor(
    private readonly lookup: (keys: K[]) => Promise<V[] | void>,
    private readonly maxInFlight = 2,
  ) {}

  get(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const list = this.waiting.get(key);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.waiting.size === 0) return;
    this.scheduled = true;
    setImmediate(() => this.run());
  }

  private run(): void {
    this.scheduled = false;
    if (this.inFlight >= this.maxInFlight || this.waiting.size === 0) return;
    const waiting = this.waiting;
    this.waiting = new Map();
    const keys = [...waiting.keys()];
    this.inFlight++;
    let call: Promise<V[] | void>;
    try {
      call = this.lookup(keys);
    } catch (err) {
      call = Promise.reject(err);
    }
    call
      .then(
        (values) => {
          keys.forEach((k, i) => {
            for (const w of waiting.get(k) ?? []) w.resolve(values?.[i] as V);
          });
        },
        (err: unknown) => {
          for (const list of waiting.values()) for (const w of list) w.reject(err);
        },
      )
      .finally(() => {
        this.inFlight--;
        this.schedule();
      });
  }
}
