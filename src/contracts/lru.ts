/** A small least-recently-used map: a `Map` keeps insertion order, so re-inserting on use is enough. */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();

  /**
   * @param capacity maximum number of entries kept.
   * @param onEvict called with each entry pushed out, to release what it holds.
   */
  constructor(
    readonly capacity: number,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {}

  /** The value for `key`, marking it most recently used. */
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** Stores `value`, evicting the least recently used entries beyond capacity. */
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      const k = oldest.value;
      const old = this.map.get(k) as V;
      this.map.delete(k);
      this.onEvict?.(k, old);
    }
  }

  /** Number of entries. */
  get size(): number {
    return this.map.size;
  }
}
