/**
 * A binary min-heap of (time, id) pairs: what is due next. Entries are not removed when their
 * subject changes; the caller checks each popped entry against the current record (a lazy heap),
 * so updating a deadline or an expiry is one push, and a sweep costs what is due, not what is held.
 */

/** One scheduled entry. */
export interface HeapEntry {
  readonly at: number;
  readonly id: string;
}

/** Min-heap by `at`. */
export class TimeHeap {
  readonly #items: HeapEntry[] = [];

  /** Entries held (stale ones included). */
  get size(): number {
    return this.#items.length;
  }

  push(at: number, id: string): void {
    const items = this.#items;
    items.push({ at, id });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.at <= items[i]!.at) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  /**
   * Keeps only the entries `keep` accepts (then rebuilds the heap, O(n)): for entries made stale
   * long before they come due, which would otherwise stay until then.
   */
  retain(keep: (entry: HeapEntry) => boolean): void {
    const items = this.#items;
    let n = 0;
    for (const e of items) if (keep(e)) items[n++] = e;
    items.length = n;
    for (let start = (n >> 1) - 1; start >= 0; start--) {
      let i = start;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && items[l]!.at < items[m]!.at) m = l;
        if (r < n && items[r]!.at < items[m]!.at) m = r;
        if (m === i) break;
        [items[m], items[i]] = [items[i]!, items[m]!];
        i = m;
      }
    }
  }

  /** The earliest entry, if any. */
  peek(): HeapEntry | undefined {
    return this.#items[0];
  }

  /** Removes and answers the earliest entry due at or before `now`. */
  popDue(now: number): HeapEntry | undefined {
    const items = this.#items;
    const top = items[0];
    if (top === undefined || top.at > now) return undefined;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && items[l]!.at < items[m]!.at) m = l;
        if (r < items.length && items[r]!.at < items[m]!.at) m = r;
        if (m === i) break;
        [items[m], items[i]] = [items[i]!, items[m]!];
        i = m;
      }
    }
    return top;
  }
}
