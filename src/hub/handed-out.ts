/**
 * The skill each task was handed out under, remembered by the hub that answered the poll: the
 * result of a task almost always comes back to the hub its worker polls, which then checks it
 * against the output contract without reading the worker and the job from the store again.
 * Bounded (the oldest entries go first); a result it does not know is checked from the store.
 */
import type { SkillInfo } from "../../generated/types.js";
import { RecentMap } from "../recent.js";

/** Entries kept at most (at least half of them, the most recent): far above the tasks a hub has out at once. */
const DEFAULT_LIMIT = 131_072;

/** Task id → (worker, skill) of the tasks this hub handed out and has not seen a result for. */
export class HandedOut {
  readonly #entries: RecentMap<string, { readonly workerId: string; readonly skill: SkillInfo | undefined }>;

  constructor(limit = DEFAULT_LIMIT) {
    this.#entries = new RecentMap(limit);
  }

  /** Remembers that `taskId` went to `workerId`, which runs it as `skill`. */
  note(taskId: string, workerId: string, skill: SkillInfo | undefined): void {
    this.#entries.set(taskId, { workerId, skill });
  }

  /**
   * Forgets `taskId` and returns its skill when it went to `workerId` (`{ skill }`, the skill
   * possibly undefined), or undefined when this hub does not know it as handed to that worker.
   */
  take(taskId: string, workerId: string): { readonly skill: SkillInfo | undefined } | undefined {
    const entry = this.#entries.get(taskId);
    if (entry === undefined) return undefined;
    this.#entries.delete(taskId);
    return entry.workerId === workerId ? entry : undefined;
  }
}
