/**
 * The dispatch room: polls, held polls, claiming, and waking held polls when a task is queued on
 * any hub sharing the store.
 *
 * Cost follows what matches: a poll looks at the head of each queue (skill and requirement class)
 * its worker's profile can serve; a queued task is offered to one held poll per matching profile
 * (not to every held poll of the skill). Class checks are memoized per (profile, queue).
 */
import { setImmediate as yieldTurn } from "node:timers/promises";
import type { TaskPayload } from "../../generated/types.js";
import type { ListenerContext } from "../listener/types.js";
import type { WorkerRecord as MatchView } from "../matching/requirement.js";
import { findSkill } from "../matching/requirement.js";
import { serializeAhead } from "../listener/respond.js";
import type { HubCore } from "./core.js";
import { acceptsParams, canRunClass, contractKeyOf, matchView, payloadFor, profileOf, queueVerdicts, skillFor } from "./dispatch.js";
import { isPromise, runFlow, wait, type Flow } from "./flow.js";
import type { Outcomes } from "./outcomes.js";
import type { JobRecord, NewJob, QueueEntry, QueueInfo, TaskRequirements, WorkerRecord } from "./store.js";
import { PollWaiters, type Waiter } from "./waiters.js";
import { RecentMap } from "../recent.js";

const NO_PROFILES: ReadonlySet<string> = new Set();
const NO_POLLS: ReadonlySet<Waiter> = new Set();

/** What a worker profile can run of a queue: nothing, each task as its params pass, or every task. */
type Verdict = 0 | 1 | 2;
const NONE: Verdict = 0;
const EACH: Verdict = 1;
const ALL: Verdict = 2;

/** Entries looked at per queue head. */
const HEAD = 8;
/** Widest window of a queue a poll looks through for a task whose params its worker accepts. */
const MAX_SCAN = 32_768;
/** Candidates handed to one claim. */
const CLAIM_BATCH = 8;
/** Memoized class checks kept before the memo is cleared. */
const MEMO_LIMIT = 50_000;
/** Most queues of a skill a claim names to the store; past them a poll looks at the queues instead. */
const MAX_NAMED_QUEUES = 64;
/** Queues learned in all past which those of skills without a parked poll are forgotten. */
const LEARNED_LIMIT = 10_000;
/** Largest params (canonical text, characters) {@link Dispatcher.learnJob} keeps at hand: at most MEMO_LIMIT × 4 KiB in all. */
const SUBMITTED_PARAMS_MAX = 4096;
/** Synchronous dispatches in a row after which a poll gives up its turn (timers and I/O run). */
const YIELD_EVERY = 64;

/** A held poll reserved for a submission (see {@link Dispatcher.reserve}). */
export interface HandOff {
  /** The poll's worker, to claim the job for. */
  readonly workerId: string;
  /** Called once with the job the submission created (undefined when it created none). */
  done(job: JobRecord | undefined): void;
}

/** Polls, held polls and claims. */
export class Dispatcher {
  readonly #core: HubCore;
  readonly #outcomes: Outcomes;
  readonly #waiters = new PollWaiters({
    added: (skill, profile) => this.#profileParked(skill, profile),
    removed: (skill, profile) => this.#profileGone(skill, profile),
  });
  /** Requirement class of each queue seen. */
  readonly #queueReqs = new Map<string, { skill: string; requirements: TaskRequirements }>();
  /** Queues seen, by skill. */
  readonly #queuesBySkill = new Map<string, Set<string>>();
  /**
   * Per queue, the profiles with polls parked for its skill that can run its class: a task queued
   * there is offered to these, never walking the profiles that cannot run it (a fleet of distinct
   * CPU machines costs a GPU task nothing). Kept as profiles park and leave and as queues appear.
   */
  readonly #able = new Map<string, Set<string>>();
  readonly #memo = new Map<string, Verdict>();
  /** Per (profile, skills): the queues a claim names as runnable and skipped, as of {@link #queuesSeen}. */
  readonly #plans = new Map<string, { seen: number; runnable: string[]; skipped: string[] }>();
  /** Queues learned so far (a plan made before the last one was learned is made again). */
  #queuesSeen = 0;
  /** Learned queues past which {@link #forgetUnparked} runs (twice what it kept, at least LEARNED_LIMIT). */
  #forgetAt = LEARNED_LIMIT;
  /**
   * Memoized params checks per (profile, job): a job's type and params never change, and the
   * profile is a content key of the contracts, so a queued job is read once per profile, not on
   * every poll that sees it at the head of its queue. Its state is not memoized: `claim` takes only
   * a job still waiting.
   */
  readonly #paramsMemo = new Map<string, boolean>();
  /**
   * Type and params of jobs submitted on this hub and not yet handed out here (at most MEMO_LIMIT,
   * the oldest dropped first; jobs another hub hands out stay until then).
   */
  readonly #submitted = new RecentMap<string, { readonly type: string; readonly params: Record<string, unknown> }>(MEMO_LIMIT);
  /** Params checks whose job is being read: concurrent polls that see the same head share one read. */
  readonly #paramsPending = new Map<string, Promise<boolean | undefined>>();
  /** Skills whose queues are being looked up. */
  readonly #learning = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #streak = 0;
  /**
   * Changes to the queues heard so far: tasks queued ({@link onQueued} calls), and claims that
   * lost every candidate they named to other claimers (tasks may be left that no signal will
   * announce again). A poll whose claim went to the store and found nothing looks again after
   * parking only if this moved meanwhile: a task queued during the claim was offered to the polls
   * held then, not to it. Otherwise parking is enough.
   */
  #queueChanges = 0;

  constructor(core: HubCore, outcomes: Outcomes) {
    this.#core = core;
    this.#outcomes = outcomes;
  }

  /** Held polls. */
  get parked(): number {
    return this.#waiters.size;
  }

  /** Queues whose requirement class this hub knows (bounded: see {@link #forgetUnparked}). */
  get learnedQueues(): number {
    return this.#queueReqs.size;
  }

  async poll(pathId: string, ctx: ListenerContext): Promise<TaskPayload | null> {
    const core = this.#core;
    const id = await core.authenticate("poll", ctx, pathId);
    const s = core.settings;
    const holdMs = Math.min(s.maxHoldMs, ctx.pollTimeout !== undefined && ctx.pollTimeout > 0 ? ctx.pollTimeout * 1000 : s.maxHoldMs);
    if (++this.#streak % YIELD_EVERY === 0) await yieldTurn();
    let worker = core.workers?.get(id);
    if (worker === undefined) {
      worker = await core.store.getWorker(id);
      if (worker !== undefined) core.workers?.put(worker);
    }
    const noHold = ctx.pollNoHold === true;
    if (worker === undefined || worker.drained === true || !s.dispatchable.has(worker.status)) {
      // Unknown, drained or not taking work: hold (so clients do not spin) until released.
      if (noHold) return null;
      await this.#park(id, "", [], holdMs, ctx.signal);
      return null;
    }
    if (core.now() - worker.lastSeenAt > s.ttlMs / 8) {
      core.workers?.forget(id);
      await core.store.touch(id, s.ttlMs);
    }
    const profile = worker.profile ?? profileOf(worker);
    // Made for this poll and kept by it while it is held, never per profile: workers that each
    // have a profile of their own (a serial number in capabilities.extra) and come and go under
    // new ids would otherwise leave a view (their skill catalogue) each in the hub.
    const view = matchView(worker);
    const skills = pollSkills(worker, ctx.availableSkills);
    // With a synchronous store the claim and the parking happen in one turn, so no task can be
    // queued in between; otherwise the parked poll looks at the queues once more if a task was
    // queued while the claim ran (it was offered to polls held then, not to this one).
    const queuedBefore = this.#queueChanges;
    const claimed = this.#claim(profile, view, id, skills);
    const wentAsync = isPromise(claimed);
    let job = wentAsync ? await claimed : claimed;
    const parked = job === null;
    // A result asking for its worker's next task is answered at once, with or without one.
    if (parked && noHold) return null;
    if (parked) job = await this.#park(id, profile, skills, holdMs, ctx.signal, wentAsync ? queuedBefore : undefined, view);
    if (job === null) return null;
    // A held poll whose client left gives its task back here. One answered at once needs no
    // signal made for it: the listener gives back a task it cannot deliver (onUndelivered).
    if (parked && ctx.signal.aborted) {
      await this.release(job, "client_gone");
      return null;
    }
    const payload = await this.#payload(job, id);
    if (payload !== null) core.handedOut.note(job.taskId, id, skillFor(worker, job.type));
    return payload;
  }

  /** The payload of a claimed job; a job that cannot be written ends as failed instead of running forever. */
  async #payload(job: JobRecord, workerId: string): Promise<TaskPayload | null> {
    const core = this.#core;
    const payload = payloadFor(job, core.now(), { ...(core.settings.orchestratorKey !== undefined ? { orchestratorKey: core.settings.orchestratorKey } : {}), ...(core.settings.allowedSkills !== undefined ? { allowedSkills: core.settings.allowedSkills } : {}) });
    try {
      // Serialized now (the listener then writes this text): a task that cannot be sent ends
      // here instead of being handed out and put back forever.
      serializeAhead(payload);
      return payload;
    } catch (err) {
      const verdict = await core.store.settle(workerId, job.jobId, job.taskId, {
        status: "failure",
        error: { code: "INVALID_INPUT_ERROR", message: `The task cannot be sent to a worker: ${err instanceof Error ? err.message : String(err)}` },
        transition: "failure_handled",
      });
      if (verdict.kind === "accepted") this.#outcomes.completed(verdict.job);
      return null;
    }
  }

  /** Puts a task whose poll answer did not reach its worker back in the queue at once. */
  async release(job: Pick<JobRecord, "jobId" | "taskId">, reason: string): Promise<void> {
    const core = this.#core;
    const back = await core.store.release(job.jobId, job.taskId);
    if (back === undefined) return;
    core.counters.released++;
    this.#outcomes.observe(back);
    core.logger.info({ job_id: back.jobId, reason }, "hub: task given back to the queue");
    core.events.emit("task:requeued", { jobId: back.jobId, taskId: back.taskId, workerId: undefined, reason });
  }

  /**
   * Learns what a submission on this hub knows already: its queue's requirement class, and its
   * params, so that a poll checking them against a contract need not read the job back.
   */
  learnJob(job: Pick<NewJob, "jobId" | "queue" | "type" | "requirements" | "params">, paramsSize: number): void {
    this.#learnQueue(job.queue, job.type, job.requirements);
    // Small params only: this memo must not hold a second copy of large ones for every queued task.
    if (paramsSize > SUBMITTED_PARAMS_MAX) return;
    this.#submitted.set(job.jobId, { type: job.type, params: job.params });
  }

  /**
   * Takes a held poll of this hub that can run `job` (its queue's class fits, and its params when
   * its worker's contract decides task by task), for the submission to claim the job for that
   * worker in the same store step (see {@link HubStore.submit}'s `handTo`). The submission calls
   * `done` with what the store answered: the poll is answered with the job when it was handed,
   * else it looks at the queues again.
   */
  reserve(job: Pick<NewJob, "queue" | "type" | "params">): HandOff | undefined {
    const byProfile = this.#waiters.profilesFor(job.type);
    if (byProfile.size === 0) return undefined;
    const queue = this.#queueReqs.get(job.queue);
    if (queue === undefined) return undefined;
    for (const profile of this.#able.get(job.queue) ?? NO_PROFILES) {
      const set = byProfile.get(profile);
      if (set === undefined) continue;
      for (const w of set) {
        const view = w.view;
        if (w.done || view === undefined) continue;
        if (this.#verdict(profile, view, job.queue, job.type, queue.requirements) === EACH && !acceptsParams(view, job.type, job.params)) break;
        if (!this.#waiters.take(w)) continue;
        return { workerId: w.workerId, done: (claimed) => this.#handed(w, view, claimed) };
      }
    }
    return undefined;
  }

  /** The end of a {@link reserve}: `job` as the submission created it, or undefined when it created none. */
  #handed(w: Waiter, view: MatchView, job: JobRecord | undefined): void {
    if (job !== undefined && job.state === "running" && job.workerId === w.workerId) {
      this.#assigned(job, w.workerId);
      if (!w.done) {
        w.settle(job);
        return;
      }
      // The poll ended while the job was being handed to it: the job goes back.
      this.#core.background("release", () => this.release(job, "poll_ended"));
      return;
    }
    // Not handed: tasks queued meanwhile were not offered to this poll, so it looks again.
    if (!w.done && !this.#core.closed) this.#serve(w, view, 0);
  }

  /** A task was queued (here or on another hub): offer it to held polls that can run it. */
  onQueued(queue: string, skill: string): void {
    this.#queueChanges++;
    const byProfile = this.#waiters.profilesFor(skill);
    if (byProfile.size === 0) return;
    if (!this.#queueReqs.has(queue)) {
      // A queue first seen in a signal: learn its class (one lookup per skill at a time), then offer.
      if (this.#learning.has(skill)) return;
      this.#learning.add(skill);
      this.#core.background("offer", async () => {
        let queues: readonly QueueInfo[];
        try {
          queues = await this.#core.store.queuesOf(skill);
        } finally {
          this.#learning.delete(skill);
        }
        // Tasks queued while this lookup ran were not offered: offer what each queue holds.
        this.#offerQueues(skill, queues);
      });
      return;
    }
    for (const profile of this.#able.get(queue) ?? NO_PROFILES) {
      const set = byProfile.get(profile);
      if (set === undefined) continue;
      for (const w of set) {
        if (w.done || w.view === undefined || !this.#waiters.take(w)) continue;
        this.#serve(w, w.view, 0);
        // One poll per queued task; the poll takes the best task it can run.
        return;
      }
    }
  }

  /** Records a queue's class; a new queue is matched once against the profiles parked for its skill. */
  #learnQueue(name: string, skill: string, requirements: TaskRequirements): void {
    if (this.#queueReqs.has(name)) return;
    this.#queueReqs.set(name, { skill, requirements });
    this.#queuesSeen++;
    let names = this.#queuesBySkill.get(skill);
    if (names === undefined) this.#queuesBySkill.set(skill, (names = new Set()));
    names.add(name);
    for (const profile of this.#waiters.profilesFor(skill).keys()) this.#matchQueue(name, skill, requirements, profile);
    if (this.#queueReqs.size > this.#forgetAt) this.#forgetUnparked();
  }

  /**
   * Forgets the queues learned for skills no poll is parked for: a client submitting ever new
   * task types must not grow this hub without bound. Nothing depends on them: a claim learns the
   * queues it needs from the store, and a task queued for a skill with parked polls is learned
   * from its signal. Runs after the learned queues doubled since the last run, so its cost per
   * learned queue stays constant.
   */
  #forgetUnparked(): void {
    for (const [skill, names] of this.#queuesBySkill) {
      if (this.#waiters.profilesFor(skill).size > 0) continue;
      for (const name of names) {
        this.#queueReqs.delete(name);
        this.#able.delete(name);
      }
      this.#queuesBySkill.delete(skill);
    }
    this.#queuesSeen++;
    this.#forgetAt = Math.max(LEARNED_LIMIT, 2 * this.#queueReqs.size);
  }

  /** A profile got its first parked poll for `skill`: note the queues of the skill it can run. */
  #profileParked(skill: string, profile: string): void {
    for (const name of this.#queuesBySkill.get(skill) ?? NO_PROFILES) {
      const reqs = this.#queueReqs.get(name)!;
      this.#matchQueue(name, skill, reqs.requirements, profile);
    }
  }

  /** A profile has no parked poll for `skill` any more. */
  #profileGone(skill: string, profile: string): void {
    for (const name of this.#queuesBySkill.get(skill) ?? NO_PROFILES) this.#able.get(name)?.delete(profile);
  }

  #matchQueue(name: string, skill: string, requirements: TaskRequirements, profile: string): void {
    // The view of a poll of this profile parked for the skill (the profile is matched only then).
    let view: MatchView | undefined;
    for (const w of this.#waiters.profilesFor(skill).get(profile) ?? NO_POLLS) if ((view = w.view) !== undefined) break;
    if (view === undefined || this.#verdict(profile, view, name, skill, requirements) === NONE) return;
    let able = this.#able.get(name);
    if (able === undefined) this.#able.set(name, (able = new Set()));
    able.add(profile);
  }

  /** Safety net across hubs: serve held polls whose skills have queued tasks (a lost signal costs one period). */
  async recheck(): Promise<void> {
    for (const skill of [...this.#waiters.skills()]) this.#offerQueues(skill, await this.#core.store.queuesOf(skill));
  }

  /** Offers each queue's tasks to held polls (as many offers as tasks, while polls take them). */
  #offerQueues(skill: string, queues: readonly QueueInfo[]): void {
    for (const q of queues) {
      this.#learnQueue(q.name, q.skill, q.requirements);
      for (let i = 0; i < q.length && this.#waiters.profilesFor(skill).size > 0; i++) {
        const before = this.#waiters.size;
        this.onQueued(q.name, skill);
        if (this.#waiters.size === before) break;
      }
    }
  }

  /** Ends a worker's held polls (it re-registered, drains, or is gone); its next poll sees its new record. */
  releaseWorker(workerId: string): void {
    this.#core.workers?.forget(workerId);
    this.#waiters.release(workerId);
  }

  /** Ends every held poll and timer. */
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#waiters.releaseAll();
  }

  /**
   * What a profile can run of a queue, memoized: nothing when the class does not fit or the
   * queue's name carries a refusal by the profile's contract; every task when the skill has no
   * input contract or the name carries an acceptance by it; else each task as its params pass.
   */
  #verdict(profile: string, view: MatchView, queue: string, skill: string, requirements: TaskRequirements): Verdict {
    const key = `${profile}\u0000${queue}`;
    let v = this.#memo.get(key);
    if (v === undefined) {
      v = canRunClass(view, skill, requirements) ? contractVerdict(view, skill, queue) : NONE;
      if (this.#memo.size >= MEMO_LIMIT) this.#memo.clear();
      this.#memo.set(key, v);
    }
    return v;
  }

  /**
   * The queues a claim for this profile names: runnable (every task) and skipped (none), out of
   * those learned for `skills`; undefined past {@link MAX_NAMED_QUEUES} of a skill.
   */
  #plan(profile: string, view: MatchView, skills: readonly string[]): { runnable: string[]; skipped: string[] } | undefined {
    const key = `${profile}\u0000${skills.join("\u0000")}`;
    const known = this.#plans.get(key);
    if (known !== undefined && known.seen === this.#queuesSeen) return known;
    const plan = { seen: this.#queuesSeen, runnable: [] as string[], skipped: [] as string[] };
    for (const skill of skills) {
      const names = this.#queuesBySkill.get(skill);
      if (names === undefined) continue;
      if (names.size > MAX_NAMED_QUEUES) return undefined;
      for (const name of names) {
        const v = this.#verdict(profile, view, name, skill, this.#queueReqs.get(name)!.requirements);
        // A queue checked task by task is named in neither list: the store then answers `look`.
        if (v === ALL) plan.runnable.push(name);
        else if (v === NONE) plan.skipped.push(name);
      }
    }
    if (this.#plans.size >= MEMO_LIMIT) this.#plans.clear();
    this.#plans.set(key, plan);
    return plan;
  }

  /**
   * Past {@link MAX_NAMED_QUEUES} queues learned for a skill, forgets those not among `holding`
   * (every queue of the skills holding tasks now): one that fills again is learned again from
   * its signal or the next look, and claims go on naming the queues in one step.
   */
  #forgetEmptied(skills: readonly string[], holding: readonly QueueInfo[]): void {
    for (const skill of skills) {
      const names = this.#queuesBySkill.get(skill);
      if (names === undefined || names.size <= MAX_NAMED_QUEUES) continue;
      const live = new Set(holding.filter((q) => q.skill === skill).map((q) => q.name));
      for (const name of names) {
        if (live.has(name)) continue;
        names.delete(name);
        this.#queueReqs.delete(name);
        this.#able.delete(name);
      }
      this.#queuesSeen++;
    }
  }

  #claim(profile: string, view: MatchView, workerId: string, skills: readonly string[]): JobRecord | null | Promise<JobRecord | null> {
    return runFlow(this.#claimFlow(profile, view, workerId, skills));
  }

  *#claimFlow(profile: string, view: MatchView, workerId: string, skills: readonly string[]): Flow<JobRecord | null> {
    const store = this.#core.store;
    // One step when every queue holding tasks is decided for this profile: the store takes the
    // best head of the runnable ones. Otherwise it answers with the queues to look through.
    let looked: readonly QueueInfo[] | undefined;
    const plan = this.#plan(profile, view, skills);
    if (plan !== undefined) {
      const r = yield* wait(store.claimBest(workerId, skills, plan.runnable, plan.skipped, HEAD));
      if (r.kind === "claimed") {
        this.#assigned(r.job, workerId);
        return r.job;
      }
      if (r.kind === "none") return null;
      looked = r.queues;
    }
    for (let attempt = 0; attempt < 4; attempt++) {
      const entries: QueueEntry[] = [];
      const queues: QueueInfo[] = [];
      if (looked !== undefined) queues.push(...looked);
      else for (const skill of skills) queues.push(...(yield* wait(store.queuesOf(skill, HEAD))));
      looked = undefined;
      this.#forgetEmptied(skills, queues);
      for (const q of queues) {
        this.#learnQueue(q.name, q.skill, q.requirements);
        const v = this.#verdict(profile, view, q.name, q.skill, q.requirements);
        if (v === NONE) continue;
        // The head of the queue first; when none of it takes this worker's contract (params
        // only another version accepts), look further, a wider window each time: tasks the
        // worker cannot run never starve one it can.
        let checked = 0;
        for (let limit = HEAD; ; limit *= 8) {
          const window = limit === HEAD && q.head !== undefined ? q.head : yield* wait(store.peek(q.name, limit));
          let found = 0;
          for (let i = checked; i < window.length && found < CLAIM_BATCH; i++) {
            if (v === ALL || (yield* this.#paramsOk(profile, view, q.skill, window[i]!.jobId))) {
              entries.push(window[i]!);
              found++;
            }
          }
          checked = window.length;
          if (found > 0 || window.length < limit || limit >= MAX_SCAN) break;
        }
      }
      if (entries.length === 0) return null;
      entries.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
      const candidates = entries.slice(0, CLAIM_BATCH).map((e) => e.jobId);
      const job = yield* wait(store.claim(workerId, candidates));
      if (job !== null) {
        this.#assigned(job, workerId);
        return job;
      }
    }
    this.#queueChanges++;
    return null;
  }

  /** Params of a queued job checked against this worker's contract (only when it has one). */
  *#paramsOk(profile: string, view: MatchView, skill: string, jobId: string): Flow<boolean> {
    // A skill without an input contract takes any params: nothing to read.
    const mine = findSkill(view.supported_skills, skill);
    if (mine !== undefined && mine.input_schema === undefined) return true;
    const key = `${profile}\u0000${jobId}`;
    const known = this.#paramsMemo.get(key);
    if (known !== undefined) return known;
    // Submitted here: its params are at hand (whether it still waits is the claim's business).
    const submitted = this.#submitted.get(jobId);
    if (submitted !== undefined) return this.#paramsOf(key, view, { state: "waiting_for_worker", ...submitted }) ?? false;
    let pending = this.#paramsPending.get(key);
    if (pending === undefined) {
      const read = this.#core.store.getJob(jobId);
      if (!isPromise(read)) return this.#paramsOf(key, view, read) ?? false;
      pending = read.then((job) => this.#paramsOf(key, view, job));
      this.#paramsPending.set(key, pending);
      const forget = (): void => void this.#paramsPending.delete(key);
      pending.then(forget, forget);
    }
    return (yield* wait(pending)) ?? false;
  }

  /** The params check of a job just read, memoized; undefined (not memoized) when it no longer waits. */
  #paramsOf(key: string, view: MatchView, job: Pick<JobRecord, "state" | "type" | "params"> | undefined): boolean | undefined {
    if (job === undefined || job.state !== "waiting_for_worker") return undefined;
    const skill = findSkill(view.supported_skills, job.type);
    const ok = skill?.input_schema === undefined ? skill !== undefined : acceptsParams(view, job.type, job.params);
    if (this.#paramsMemo.size >= MEMO_LIMIT) this.#paramsMemo.clear();
    this.#paramsMemo.set(key, ok);
    return ok;
  }

  #assigned(job: JobRecord, workerId: string): void {
    const core = this.#core;
    this.#submitted.delete(job.jobId);
    core.counters.dispatched++;
    this.#outcomes.observe(job);
    core.events.emit("task:dispatched", {
      jobId: job.jobId,
      taskId: job.taskId,
      workerId,
      attempt: job.attempts,
      type: job.type,
      submittedAt: job.submittedAt,
      ...(job.dispatchedAt !== undefined ? { dispatchedAt: job.dispatchedAt } : {}),
    });
  }

  /** Parks a poll; resolves with an assigned job, or null on timeout, abort or release. */
  #park(
    workerId: string,
    profile: string,
    skills: readonly string[],
    holdMs: number,
    signal: AbortSignal,
    queuedBefore?: number,
    view?: MatchView,
  ): Promise<JobRecord | null> {
    if (this.#core.closed || signal.aborted || holdMs <= 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      let done = false;
      const waiter: Waiter = {
        workerId,
        profile,
        skills,
        view,
        get done() {
          return done;
        },
        settle: (job) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          this.#timers.delete(timer);
          signal.removeEventListener("abort", onAbort);
          this.#waiters.take(waiter);
          resolve(job);
        },
      };
      const onAbort = (): void => waiter.settle(null);
      const timer = setTimeout(() => waiter.settle(null), holdMs);
      this.#timers.add(timer);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.add(waiter);
      // A task queued between this poll's (asynchronous) look at the queues and now was offered
      // to nobody: look once more, now that later tasks will be offered here.
      if (queuedBefore !== undefined && queuedBefore !== this.#queueChanges && view !== undefined && skills.length > 0 && this.#waiters.take(waiter)) {
        this.#serve(waiter, view, 0);
      }
    });
  }

  /** Serves a taken poll: the best task it can run, or parks it again (bounded re-checks). */
  #serve(w: Waiter, view: MatchView, depth: number): void {
    const onError = (err: unknown): void => {
      this.#core.failed("serving a held poll", err, { worker_id: w.workerId });
      w.settle(null);
    };
    try {
      const r = runFlow(this.#serveFlow(w, view, depth));
      if (isPromise(r)) r.catch(onError);
    } catch (err) {
      onError(err);
    }
  }

  *#serveFlow(w: Waiter, view: MatchView, depth: number): Flow<void> {
    const queuedBefore = this.#queueChanges;
    const claimed = this.#claim(w.profile, view, w.workerId, w.skills);
    const job = yield* wait(claimed);
    if (job === null) {
      if (w.done || this.#core.closed) return;
      this.#waiters.add(w);
      // Held again; it looks once more only when a task was queued while its claim ran.
      if (isPromise(claimed) && queuedBefore !== this.#queueChanges && depth < 3 && this.#waiters.take(w)) this.#serve(w, view, depth + 1);
      return;
    }
    if (w.done) {
      // The poll ended while the task was being assigned: the task goes back.
      yield this.release(job, "poll_ended");
      return;
    }
    w.settle(job);
  }
}

function pollSkills(worker: WorkerRecord, available: readonly string[] | undefined): string[] {
  const names = worker.skills.map((s) => s.name);
  return available === undefined ? names : names.filter((n) => available.includes(n));
}

/** What the worker's input contract for `skill` says of the tasks of `queue` (see {@link Dispatcher}). */
function contractVerdict(view: MatchView, skill: string, queue: string): Verdict {
  const mine = findSkill(view.supported_skills, skill);
  if (mine === undefined) return NONE;
  if (mine.input_schema === undefined) return ALL;
  const key = contractKeyOf(mine);
  const said = key === undefined ? undefined : queueVerdicts(queue).get(key);
  return said === undefined ? EACH : said ? ALL : NONE;
}
