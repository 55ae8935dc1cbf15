/**
 * The in-process side of jobs: handles returned by `submit()` and the promises of their outcomes,
 * resolved when the store signals that a job ended (whichever hub ended it), and the one place
 * that turns an ended job into a `task:completed` event and counters.
 */
import { ErrorCode, TaskStatus } from "../../generated/constants.js";
import type { HubCore } from "./core.js";
import { isTerminal, type JobRecord } from "./store.js";
import type { TaskHandle, TaskOutcome, TaskState } from "./types.js";
import { RecentSet } from "../recent.js";

interface LocalJob {
  state: TaskState;
  taskId: string;
  resolve: (o: TaskOutcome) => void;
  readonly promise: Promise<TaskOutcome>;
}

/** The outcome of an ended job. */
export function outcomeOf(job: JobRecord): TaskOutcome {
  return {
    status: job.status ?? (job.state === "cancelled" ? TaskStatus.CANCELLED : job.state === "failed" ? TaskStatus.FAILURE : TaskStatus.SUCCESS),
    jobId: job.jobId,
    taskId: job.taskId,
    attempts: job.attempts,
    durationMs: (job.finishedAt ?? job.submittedAt) - job.submittedAt,
    ...(job.data !== undefined ? { data: job.data } : {}),
    ...(job.error !== undefined ? { error: job.error } : {}),
    ...(job.resultWorkerId !== undefined ? { workerId: job.resultWorkerId } : {}),
  };
}

/** How many ended jobs {@link Outcomes} remembers at least for watches that start late (at most twice as many). */
const RECENT_ENDS = 4096;

/** Handles and outcome promises of the jobs this process submitted or looks at. */
export class Outcomes {
  readonly #core: HubCore;
  readonly #local = new Map<string, LocalJob>();
  /** Wake-ups of anything waiting for a job to end (client API `?wait`), given its record when known. */
  readonly #watchers = new Map<string, Set<(job?: JobRecord) => void>>();
  /**
   * Ids of jobs that ended lately (at least the last {@link RECENT_ENDS}): a watch that starts just
   * after the end still wakes. Only ids: records (results up to the body limit each) are handed to
   * the watchers present at the end, never kept.
   */
  readonly #recent = new RecentSet<string>(2 * RECENT_ENDS);
  /** Ends noted so far (some twice: by this hub's transition and by the store's signal). */
  #ends = 0;

  constructor(core: HubCore) {
    this.#core = core;
  }

  /**
   * Starts following a job about to be submitted, so that what happens to it during the
   * submitting transition itself (a held poll claiming it at once) is not missed.
   */
  expect(jobId: string, taskId: string): void {
    if (this.#local.has(jobId)) return;
    let resolve!: (o: TaskOutcome) => void;
    const promise = new Promise<TaskOutcome>((r) => (resolve = r));
    this.#local.set(jobId, { state: "waiting_for_worker", taskId, resolve, promise });
  }

  /** Stops following a job {@link expect}ed that was not created after all. */
  forget(jobId: string): void {
    this.#local.delete(jobId);
  }

  /** A handle on `job`, whose `result()` resolves when it ends on any hub. */
  handle(job: JobRecord): TaskHandle {
    let local = this.#local.get(job.jobId);
    if (local === undefined) {
      let resolve!: (o: TaskOutcome) => void;
      const promise = new Promise<TaskOutcome>((r) => (resolve = r));
      local = { state: job.state, taskId: job.taskId, resolve, promise };
      if (isTerminal(job.state)) resolve(outcomeOf(job));
      else this.#local.set(job.jobId, local);
    } else if (isTerminal(job.state)) {
      this.#local.delete(job.jobId);
      local.state = job.state;
      local.taskId = job.taskId;
      local.resolve(outcomeOf(job));
    }
    const l = local;
    const cancel = this.cancel;
    return {
      jobId: job.jobId,
      get taskId() {
        return l.taskId;
      },
      get status() {
        return l.state;
      },
      result: (options) => withSignal(l.promise, options?.signal),
      cancel: () => cancel(job.jobId),
    };
  }

  /** Set by the hub: how a handle cancels. */
  cancel: (jobId: string) => Promise<void> = async () => {};

  /**
   * A handle that costs nothing until its `result()` is asked for (the client API answers with
   * ids and state only, and a hub holding a promise per queued task would pay for it in memory).
   */
  snapshot(job: JobRecord): TaskHandle {
    const cancel = this.cancel;
    return {
      jobId: job.jobId,
      taskId: job.taskId,
      status: job.state,
      result: (options) => withSignal(this.#follow(job.jobId), options?.signal),
      cancel: () => cancel(job.jobId),
    };
  }

  async #follow(jobId: string): Promise<TaskOutcome> {
    // Follow first, then look: an end between the two is not missed.
    this.expect(jobId, "");
    const l = this.#local.get(jobId)!;
    const job = await this.#core.store.getJob(jobId);
    if (job !== undefined && isTerminal(job.state) && this.#local.get(jobId) === l) {
      this.#local.delete(jobId);
      l.state = job.state;
      l.taskId = job.taskId;
      l.resolve(outcomeOf(job));
    } else if (job !== undefined) {
      l.state = job.state;
      l.taskId = job.taskId;
    }
    return l.promise;
  }

  /** Updates the mirror of a job's state seen in a transition's answer. */
  observe(job: JobRecord): void {
    const l = this.#local.get(job.jobId);
    if (l === undefined) return;
    l.state = job.state;
    l.taskId = job.taskId;
  }

  /**
   * Counts and announces a job this hub's transition ended (once per job across hubs: only the
   * hub whose transition ended it calls this).
   */
  completed(job: JobRecord): void {
    const c = this.#core.counters;
    if (job.state === "finished") c.succeeded++;
    else if (job.state === "failed") c.failed++;
    else c.cancelled++;
    this.observe(job);
    this.#core.events.emit("task:completed", outcomeOf(job));
    // Local handles and watchers learn the end from the record at hand; the store's "ended"
    // signal, which follows, then finds nothing left to read for.
    this.#settle(job.jobId, job);
  }

  /**
   * A job ended somewhere: resolve its local promise and wake its watchers, with the record the
   * signal carries when it is there, else (for a local promise) with the record read back.
   * `signal.job` is read only when someone here waits for the job: a store may decode it on read.
   */
  async ended(signal: { readonly jobId: string; readonly job?: JobRecord }): Promise<void> {
    const { jobId } = signal;
    let l = this.#local.get(jobId);
    const carried = l !== undefined || this.#watchers.has(jobId) ? signal.job : undefined;
    if (carried !== undefined && carried.jobId === jobId && isTerminal(carried.state)) {
      this.#settle(jobId, carried);
      return;
    }
    this.#settle(jobId, undefined);
    l = this.#local.get(jobId);
    if (l === undefined) return;
    const job = await this.#core.store.getJob(jobId);
    if (job === undefined || !isTerminal(job.state) || this.#local.get(jobId) !== l) return;
    this.#local.delete(jobId);
    l.state = job.state;
    l.taskId = job.taskId;
    l.resolve(outcomeOf(job));
  }

  /** Notes that `jobId` ended (with its record when known), wakes its watchers and, with the record, its local handle. */
  #settle(jobId: string, job: JobRecord | undefined): void {
    this.#recent.add(jobId);
    this.#ends++;
    // Woken watchers are done: dropped now, so the store's signal for an end this hub already
    // announced finds no one to decode its record for.
    const watchers = this.#watchers.get(jobId);
    this.#watchers.delete(jobId);
    if (watchers !== undefined) for (const wake of [...watchers]) wake(job);
    const l = job === undefined ? undefined : this.#local.get(jobId);
    if (l === undefined || job === undefined) return;
    this.#local.delete(jobId);
    l.state = job.state;
    l.taskId = job.taskId;
    l.resolve(outcomeOf(job));
  }

  /**
   * Calls `wake` once `jobId` ends (on any hub), with the ended record when a transition of this
   * hub ended it; at once (in a microtask, without a record) for a job that ended lately.
   * Returns the function that stops watching.
   */
  watch(jobId: string, wake: (job?: JobRecord) => void): () => void {
    if (this.#recent.has(jobId)) {
      let on = true;
      queueMicrotask(() => on && wake());
      return () => void (on = false);
    }
    let set = this.#watchers.get(jobId);
    if (set === undefined) this.#watchers.set(jobId, (set = new Set()));
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.#watchers.get(jobId) === set) this.#watchers.delete(jobId);
    };
  }

  /** A mark of the ends noted so far, for {@link seesEndsSince}. */
  endMark(): number {
    return this.#ends;
  }

  /**
   * Whether every job that ended since `mark` (from {@link endMark}) is still among the recent
   * ends, so that {@link watch} on it wakes at once. False once more ended since than are kept.
   */
  seesEndsSince(mark: number): boolean {
    return this.#ends - mark < RECENT_ENDS;
  }

  /**
   * Signals may have been lost: reads every job this process follows or watches, and settles
   * those that ended meanwhile (as their `ended` signal would have).
   */
  async resync(): Promise<void> {
    const ids = [...new Set([...this.#local.keys(), ...this.#watchers.keys()])];
    for (let i = 0; i < ids.length; i += 256) {
      const batch = ids.slice(i, i + 256);
      const jobs = await Promise.all(batch.map((id) => this.#core.store.getJob(id)));
      jobs.forEach((job, k) => {
        if (job !== undefined && isTerminal(job.state)) this.#settle(batch[k]!, job);
      });
    }
  }

  /** Resolves every open handle with a transient failure (the hub closes; the jobs themselves live on in a shared store). */
  closeAll(): void {
    for (const [jobId, l] of [...this.#local]) {
      this.#local.delete(jobId);
      l.resolve({ status: TaskStatus.FAILURE, error: { code: ErrorCode.TRANSIENT_ERROR, message: "Hub closed" }, jobId, taskId: l.taskId, attempts: 0, durationMs: 0 });
    }
    for (const set of this.#watchers.values()) for (const wake of [...set]) wake();
  }
}

function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
