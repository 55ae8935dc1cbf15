/**
 * A per-skill task queue: priority descending, FIFO within a priority. Priorities are few in
 * practice, so entries live in one FIFO bucket per priority level with the levels kept sorted;
 * taking from the head is O(1) amortized and removing a specific entry (a claim that skipped
 * ahead, a cancel) costs a scan of its bucket only.
 */
import type { QueueEntry } from "./store.js";

class Bucket {
  items: QueueEntry[] = [];
  head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(entry: QueueEntry): void {
    this.items.push(entry);
  }

  remove(jobId: string): boolean {
    const items = this.items;
    for (let i = this.head; i < items.length; i++) {
      if (items[i]!.jobId !== jobId) continue;
      if (i === this.head) {
        items[i] = undefined as unknown as QueueEntry;
        this.head++;
        // Compact now and then so the array does not grow without bound.
        if (this.head > 1024 && this.head * 2 > items.length) {
          this.items = items.slice(this.head);
          this.head = 0;
        } else if (this.head === items.length) {
          this.items = [];
          this.head = 0;
        }
      } else {
        items.splice(i, 1);
      }
      return true;
    }
    return false;
  }
}

/** Priority queue of task entries for one skill. */
export class SkillQueue {
  private readonly buckets = new Map<number, Bucket>();
  /** Priority levels, highest first. */
  private levels: number[] = [];
  private count = 0;

  /** Number of queued entries. */
  get size(): number {
    return this.count;
  }

  /** Appends `entry` behind the entries of equal priority. */
  push(entry: QueueEntry): void {
    let bucket = this.buckets.get(entry.priority);
    if (bucket === undefined) {
      bucket = new Bucket();
      this.buckets.set(entry.priority, bucket);
      this.levels.push(entry.priority);
      this.levels.sort((a, b) => b - a);
    }
    // A re-queued task keeps its original sequence number, so it goes back to its place.
    const items = bucket.items;
    if (bucket.size > 0 && items[items.length - 1]!.seq > entry.seq) {
      let i = items.length - 1;
      while (i > bucket.head && items[i - 1]!.seq > entry.seq) i--;
      items.splice(i, 0, entry);
    } else {
      bucket.push(entry);
    }
    this.count++;
  }

  /** The first entry in dispatch order. */
  first(): QueueEntry | undefined {
    const level = this.levels[0];
    if (level === undefined) return undefined;
    const bucket = this.buckets.get(level)!;
    return bucket.items[bucket.head];
  }

  /** The first `limit` entries in dispatch order. */
  peek(limit: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (const level of this.levels) {
      const bucket = this.buckets.get(level)!;
      const items = bucket.items;
      for (let i = bucket.head; i < items.length && out.length < limit; i++) out.push(items[i]!);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Removes the entry of `jobId`; false when it is not queued. */
  remove(jobId: string, priority: number): boolean {
    const bucket = this.buckets.get(priority);
    if (bucket === undefined || !bucket.remove(jobId)) return false;
    this.count--;
    if (bucket.size === 0) {
      this.buckets.delete(priority);
      this.levels = this.levels.filter((l) => l !== priority);
    }
    return true;
  }
}
