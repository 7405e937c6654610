/**
 * Lookups asked for during one event-loop turn, answered by one bulk call after it: the
 * connections a busy turn opens (dozens, when clients reconnect together) then cost one store
 * round trip instead of one each. The same key asked twice in a turn is looked up once.
 */
export class TurnBatch<K, V> {
  private waiting = new Map<K, { resolve: (v: V) => void; reject: (e: unknown) => void }[]>();
  private scheduled = false;

  /** `lookup` answers the keys in the order given. */
  constructor(private readonly lookup: (keys: K[]) => Promise<V[]>) {}

  get(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const list = this.waiting.get(key);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.run());
    });
  }

  private run(): void {
    this.scheduled = false;
    const waiting = this.waiting;
    this.waiting = new Map();
    const keys = [...waiting.keys()];
    this.lookup(keys).then(
      (values) => {
        keys.forEach((k, i) => {
          for (const w of waiting.get(k) ?? []) w.resolve(values[i] as V);
        });
      },
      (err: unknown) => {
        for (const list of waiting.values()) for (const w of list) w.reject(err);
      },
    );
  }
}
