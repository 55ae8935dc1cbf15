/**
 * Bounded memories of the most recent entries, at O(1) per operation whatever their size.
 *
 * The obvious bound, a `Map` whose first key is deleted once it is over its limit, costs O(limit)
 * per insertion when full: a Map keeps deleted slots until it rehashes, and `keys().next()` walks
 * past every one of them from the front (about 1 µs per insertion at 4k entries, 14 µs at 50k).
 * Here entries live in two generations instead: when the young one holds half the capacity, the
 * old one is dropped whole and the young one takes its place. Nothing iterates; a memory of
 * capacity C keeps at least the C/2 most recent entries and never more than C.
 */

/** A map keeping its most recent entries (see the file comment). Values must not be `undefined`. */
export class RecentMap<K, V> {
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #half: number;

  /** @param capacity most entries kept (at least `capacity / 2` of the most recent ones are). */
  constructor(capacity: number) {
    this.#half = Math.max(1, Math.ceil(capacity / 2));
  }

  get(key: K): V | undefined {
    const v = this.#young.get(key);
    return v !== undefined ? v : this.#old.get(key);
  }

  has(key: K): boolean {
    return this.#young.has(key) || this.#old.has(key);
  }

  /** Stores `value` as the most recent entry. */
  set(key: K, value: V): this {
    if (this.#old.size > 0) this.#old.delete(key);
    this.#young.set(key, value);
    if (this.#young.size >= this.#half) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    return this;
  }

  delete(key: K): boolean {
    return this.#young.delete(key) || this.#old.delete(key);
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }

  /** Values, older generation first. */
  *values(): IterableIterator<V> {
    yield* this.#old.values();
    yield* this.#young.values();
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
  }
}

/** A set keeping its most recent members (see the file comment). */
export class RecentSet<K> {
  readonly #members: RecentMap<K, true>;

  /** @param capacity most members kept (at least `capacity / 2` of the most recent ones are). */
  constructor(capacity: number) {
    this.#members = new RecentMap(capacity);
  }

  has(key: K): boolean {
    return this.#members.has(key);
  }

  /** Adds `key` as the most recent member. */
  add(key: K): this {
    this.#members.set(key, true);
    return this;
  }

  delete(key: K): boolean {
    return this.#members.delete(key);
  }

  get size(): number {
    return this.#members.size;
  }

  clear(): void {
    this.#members.clear();
  }
}
