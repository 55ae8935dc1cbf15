/**
 * Held polls. A poll with nothing to do parks here, indexed by the skills it can run, until a
 * matching task is submitted (the submitter hands the task over directly), its hold time ends,
 * or its client leaves. No timers besides one per held poll, no polling loops.
 */
import type { JobRecord } from "./store.js";

/** One parked poll. */
export interface Waiter {
  readonly workerId: string;
  /** Skills it can take; empty for a poll that must not get work (unknown or draining worker). */
  readonly skills: readonly string[];
  /** Ends the wait with a task (already assigned) or nothing. */
  settle(job: JobRecord | null): void;
  /** True once settled. */
  readonly done: boolean;
}

/** The set of parked polls, by skill and by worker. */
export class PollWaiters {
  private readonly bySkill = new Map<string, Set<Waiter>>();
  private readonly byWorker = new Map<string, Set<Waiter>>();
  private count = 0;

  /** Parked polls. */
  get size(): number {
    return this.count;
  }

  add(w: Waiter): void {
    for (const s of w.skills) addTo(this.bySkill, s, w);
    addTo(this.byWorker, w.workerId, w);
    this.count++;
  }

  /** Forgets `w` (idempotent). */
  remove(w: Waiter): void {
    this.take(w);
  }

  /**
   * Removes `w` and reports whether this call did: the claim of a parked poll. Several offers may
   * look at the same poll across their awaits; only the one that takes it may hand it a task.
   */
  take(w: Waiter): boolean {
    const set = this.byWorker.get(w.workerId);
    if (set === undefined || !set.delete(w)) return false;
    if (set.size === 0) this.byWorker.delete(w.workerId);
    for (const s of w.skills) removeFrom(this.bySkill, s, w);
    this.count--;
    return true;
  }

  /**
   * Polls that can run `skill`, longest waiting first. A live view (no copy per offer): polls
   * taken while it is being walked are skipped, polls parked meanwhile may or may not be seen.
   */
  forSkill(skill: string): Iterable<Waiter> {
    return this.bySkill.get(skill) ?? NONE;
  }

  /** Has anyone parked for `skill`? */
  hasSkill(skill: string): boolean {
    return this.bySkill.has(skill);
  }

  /** Ends every poll of a worker with nothing (it re-registered, drains or is gone). */
  release(workerId: string): void {
    const set = this.byWorker.get(workerId);
    if (set === undefined) return;
    for (const w of [...set]) {
      this.remove(w);
      w.settle(null);
    }
  }

  /** Ends every poll with nothing. */
  releaseAll(): void {
    for (const id of [...this.byWorker.keys()]) this.release(id);
  }
}

const NONE: readonly Waiter[] = [];

function addTo(map: Map<string, Set<Waiter>>, key: string, w: Waiter): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(w);
}

function removeFrom(map: Map<string, Set<Waiter>>, key: string, w: Waiter): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(w);
  if (set.size === 0) map.delete(key);
}
