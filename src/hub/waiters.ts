/**
 * Held polls. A poll with nothing to do parks here until a task it can run is queued (on this hub
 * or another sharing the store), its hold time ends, or its client leaves.
 *
 * Polls are indexed by skill and then by worker profile (a content key of what matching looks
 * at): offering a task costs one match per distinct profile that polls for its skill, not one per
 * parked poll, so a fleet of a hundred thousand identical CPU workers costs a GPU task one check.
 */
import type { WorkerRecord as MatchView } from "../matching/requirement.js";
import type { JobRecord } from "./store.js";

/** One parked poll. */
export interface Waiter {
  readonly workerId: string;
  /** Profile of the worker (see WorkerRecord.profile). */
  readonly profile: string;
  /** Skills it can take; empty for a poll that must not get work (unknown or draining worker). */
  readonly skills: readonly string[];
  /** What tasks are matched against for it (its worker's matching view); undefined when it must not get work. */
  readonly view: MatchView | undefined;
  /** Ends the wait with a task (already assigned) or nothing. */
  settle(job: JobRecord | null): void;
  /** True once settled. */
  readonly done: boolean;
}

/** Told when a profile gets its first parked poll for a skill, and when it has none left. */
export interface ProfileHooks {
  added(skill: string, profile: string): void;
  removed(skill: string, profile: string): void;
}

const NO_HOOKS: ProfileHooks = { added: () => {}, removed: () => {} };

/** The set of parked polls, by skill and profile, and by worker. */
export class PollWaiters {
  private readonly bySkill = new Map<string, Map<string, Set<Waiter>>>();
  private readonly byWorker = new Map<string, Set<Waiter>>();
  private count = 0;

  constructor(private readonly hooks: ProfileHooks = NO_HOOKS) {}

  /** Parked polls. */
  get size(): number {
    return this.count;
  }

  add(w: Waiter): void {
    for (const s of w.skills) {
      let byProfile = this.bySkill.get(s);
      if (byProfile === undefined) this.bySkill.set(s, (byProfile = new Map()));
      let set = byProfile.get(w.profile);
      const first = set === undefined;
      if (set === undefined) byProfile.set(w.profile, (set = new Set()));
      set.add(w);
      if (first) this.hooks.added(s, w.profile);
    }
    let mine = this.byWorker.get(w.workerId);
    if (mine === undefined) this.byWorker.set(w.workerId, (mine = new Set()));
    mine.add(w);
    this.count++;
  }

  /**
   * Removes `w` and reports whether this call did: the claim of a parked poll. Several offers may
   * look at the same poll across their awaits; only the one that takes it may hand it a task.
   */
  take(w: Waiter): boolean {
    const mine = this.byWorker.get(w.workerId);
    if (mine === undefined || !mine.delete(w)) return false;
    if (mine.size === 0) this.byWorker.delete(w.workerId);
    for (const s of w.skills) {
      const byProfile = this.bySkill.get(s);
      const set = byProfile?.get(w.profile);
      if (set === undefined) continue;
      set.delete(w);
      if (set.size === 0) {
        byProfile!.delete(w.profile);
        this.hooks.removed(s, w.profile);
      }
      if (byProfile!.size === 0) this.bySkill.delete(s);
    }
    this.count--;
    return true;
  }

  /** Profiles with polls parked for `skill`, each with its polls (longest waiting first). */
  profilesFor(skill: string): ReadonlyMap<string, ReadonlySet<Waiter>> {
    return this.bySkill.get(skill) ?? NONE;
  }

  /** Skills some poll is parked for. */
  skills(): IterableIterator<string> {
    return this.bySkill.keys();
  }

  /** Ends every poll of a worker with nothing (it re-registered, drains or is gone). */
  release(workerId: string): void {
    const set = this.byWorker.get(workerId);
    if (set === undefined) return;
    for (const w of [...set]) {
      this.take(w);
      w.settle(null);
    }
  }

  /** Ends every poll with nothing. */
  releaseAll(): void {
    for (const id of [...this.byWorker.keys()]) this.release(id);
  }
}

const NONE: ReadonlyMap<string, ReadonlySet<Waiter>> = new Map();
