/**
 * What every room of the hub shares: the store, the resolved settings, counters, the event
 * emitter, authentication and message verification. Rooms (registry, dispatch, results,
 * cancellation, tokens, sweeps, submissions, skill calls) hold a reference to one HubCore and
 * nothing of each other but what the hub hands them.
 */
import type { EventEmitter } from "node:events";
import type { SkillInfo } from "../../generated/types.js";
import { createHash } from "node:crypto";
import { isRxonError, UnavailableError } from "../errors.js";
import { trustConnection } from "../listener/strangers.js";
import type { ListenerContext } from "../listener/types.js";
import type { Logger } from "../logger.js";
import { LogBudget } from "../log-budget.js";
import { MessageVerifier, type MessageKind } from "../security/index.js";
import { replayRefusal } from "../security/verifier.js";
import { HubAuth } from "./auth.js";
import { HandedOut } from "./handed-out.js";
import { WorkerCache } from "./worker-cache.js";
import type { HubStore, QueueLimits, ReplayEntry } from "./store.js";
import type { HubEvents, HubOptions, HubStats } from "./types.js";

/** How long a message is remembered across hubs: both sides of the 60 s timestamp window. */
const REPLAY_MEMORY_MS = 120_000;

/** Counters of a hub (the gauges of {@link HubStats} are read from the store). */
/** Requirement classes that may have tasks waiting for one skill unless `queueLimits` says otherwise. */
export const DEFAULT_CLASSES_PER_SKILL = 256;

export type Counters = { -readonly [K in keyof HubStats]: number };

/** Options with their defaults applied. */
export interface HubSettings {
  readonly ttlMs: number;
  readonly heartbeatMs: number;
  readonly leaseGraceMs: number;
  readonly maxHoldMs: number;
  readonly maxRetries: number;
  readonly cancelGraceMs: number;
  readonly retentionMs: number;
  readonly maxRetained: number;
  readonly sweepMs: number;
  /** A gap between sweeps longer than this is a pause (see HubStore.expireWorkers). */
  readonly pauseMs: number;
  readonly dispatchable: ReadonlySet<string>;
  readonly knownSkills: ReadonlyMap<string, SkillInfo>;
  readonly queueLimits: QueueLimits;
  readonly maxCallDepth: number;
  readonly skillCallTimeoutMs: number;
  readonly maxSkillCallsPerWorker: number;
  readonly orchestratorKey: string | undefined;
  readonly allowedSkills: readonly string[] | undefined;
}

/** Default of {@link HubOptions.maxSkillCallsPerWorker}. */
export const DEFAULT_SKILL_CALLS_PER_WORKER = 256;

const DEFAULT_DISPATCHABLE = ["idle", "active", "busy", "full"];

/** Applies defaults to hub options. */
export function settingsOf(options: HubOptions): HubSettings {
  const heartbeatMs = options.heartbeatIntervalMs ?? 15_000;
  const ttlMs = options.workerTtlMs ?? 3 * heartbeatMs;
  const sweepMs = options.sweepIntervalMs ?? Math.max(10, Math.min(1000, ttlMs / 4));
  return {
    heartbeatMs,
    ttlMs,
    leaseGraceMs: options.leaseGraceMs ?? 2 * heartbeatMs,
    maxHoldMs: options.maxPollHoldMs ?? 30_000,
    maxRetries: options.maxRetries ?? 3,
    cancelGraceMs: options.cancelGraceMs ?? 30_000,
    retentionMs: options.retentionMs ?? 600_000,
    maxRetained: options.maxRetained ?? 100_000,
    sweepMs,
    pauseMs: Math.max(3 * sweepMs, 1000),
    dispatchable: new Set(options.dispatchableStatuses ?? DEFAULT_DISPATCHABLE),
    knownSkills: new Map((options.skills ?? []).map((s) => [s.name, s])),
    queueLimits: { classesPerSkill: DEFAULT_CLASSES_PER_SKILL, ...options.queueLimits },
    maxCallDepth: options.maxCallDepth ?? 8,
    skillCallTimeoutMs: options.skillCallTimeoutMs ?? 300_000,
    maxSkillCallsPerWorker: options.maxSkillCallsPerWorker ?? DEFAULT_SKILL_CALLS_PER_WORKER,
    orchestratorKey: options.orchestratorKey === "" ? undefined : options.orchestratorKey,
    allowedSkills: options.allowedSkills,
  };
}

/** Shared state and helpers of one hub. */
export class HubCore {
  readonly store: HubStore;
  readonly logger: Logger;
  readonly settings: HubSettings;
  readonly auth: HubAuth;
  readonly verifier: MessageVerifier | undefined;
  readonly events: EventEmitter<HubEvents>;
  readonly counters: Counters = {
    workers: 0,
    queued: 0,
    running: 0,
    waitingPolls: 0,
    submitted: 0,
    dispatched: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    retried: 0,
    rejected: 0,
    refused: 0,
    throttled: 0,
    released: 0,
  };
  /** The skill of each task this hub handed out, for its result's contract check. */
  readonly handedOut = new HandedOut();
  /** Worker records read for polls, when the store is in another process (else undefined). */
  readonly workers: WorkerCache | undefined;
  /** Local clock for wire timestamps (store transitions use the store's clock). */
  readonly now: () => number;
  closed = false;
  /** Whether the store is shared with other processes (replay memory then goes through it). */
  readonly #sharedReplay: boolean;
  /** A store outage was logged and has not been seen to end. */
  #storeDown = false;
  /** Refusals are logged at most 10 per 10 s per reason: strangers cannot flood the log. */
  readonly #refusalLines = new LogBudget();

  constructor(store: HubStore, options: HubOptions, events: EventEmitter<HubEvents>, logger: Logger) {
    this.store = store;
    this.logger = logger;
    this.events = events;
    this.settings = settingsOf(options);
    this.now = options.now ?? Date.now;
    this.auth = new HubAuth(options.auth ?? {}, store, this.now);
    if (this.auth.verifySignatures) {
      this.verifier = new MessageVerifier({ keys: (id) => this.auth.keysFor(id), clock: this.now });
    }
    this.#sharedReplay = this.verifier !== undefined && store.inProcess !== true;
    this.workers = store.inProcess === true ? undefined : new WorkerCache();
  }

  /** The replay-memory entry of a signed message for hubs sharing the store (undefined when unsigned). */
  #sharedReplayEntry(kind: MessageKind, workerId: string, body: ListenerContext["rawBody"]): ReplayEntry | undefined {
    const security = body?.security as { signature?: unknown } | undefined;
    const signature = typeof security?.signature === "string" ? security.signature : undefined;
    if (signature === undefined) return undefined;
    return { key: `replay:${kind}:${workerId}:${createHash("sha256").update(signature).digest("base64url").slice(0, 32)}`, ttlMs: REPLAY_MEMORY_MS };
  }

  /** The authenticated worker of a request; a refusal is counted, logged once and thrown. */
  async authenticate(action: string, ctx: ListenerContext, claimedId?: string | null): Promise<string> {
    try {
      const workerId = await this.auth.authenticate(ctx, claimedId);
      // Its connection is no stranger any more: it keeps the server's keep-alive time.
      trustConnection(ctx.rawRequest?.socket);
      return workerId;
    } catch (err) {
      this.refused(action, ctx.workerIdHint ?? claimedId ?? null, err);
      throw err;
    }
  }

  /**
   * Checks a message's signature and freshness (when the hub verifies signatures). A refusal is
   * counted and logged, except a replay when `replayOk` (the caller answers re-sends of what it
   * applied, and counts the refusal itself otherwise).
   */
  async verify(kind: MessageKind, ctx: ListenerContext, workerId: string, replayOk = false): Promise<void> {
    const entry = await this.#verifyLocally(kind, ctx, workerId, replayOk);
    if (entry === undefined) return;
    // The verifier remembers messages in this process; hubs sharing a store also refuse a
    // message another hub has seen.
    if (!(await this.store.remember(entry.key, entry.ttlMs))) {
      const err = replayRefusal();
      if (!replayOk) this.refused(kind, workerId, err);
      throw err;
    }
  }

  /**
   * {@link verify} for a message whose transition can record the shared replay memory itself:
   * answers the entry that transition must carry (`Settlement.remember`), undefined when there is
   * none (no signature, no verification, or a store in this process only, whose verifier memory is
   * enough). A store that does not declare `settleRemembers` gets the entry recorded here, as
   * {@link verify} does, and the answer is undefined.
   */
  async verifyForSettle(kind: MessageKind, ctx: ListenerContext, workerId: string, replayOk = false): Promise<ReplayEntry | undefined> {
    if (this.store.settleRemembers !== true) {
      await this.verify(kind, ctx, workerId, replayOk);
      return undefined;
    }
    return this.#verifyLocally(kind, ctx, workerId, replayOk);
  }

  /** Signature and freshness; the shared replay-memory entry to record, if any. */
  async #verifyLocally(kind: MessageKind, ctx: ListenerContext, workerId: string, replayOk: boolean): Promise<ReplayEntry | undefined> {
    if (this.verifier === undefined) return undefined;
    try {
      await this.verifier.verify(ctx.rawBody, { workerId, kind });
    } catch (err) {
      if (!(replayOk && isRxonError(err) && err.details.reason === "replay")) this.refused(kind, workerId, err);
      throw err;
    }
    return this.#sharedReplay ? this.#sharedReplayEntry(kind, workerId, ctx.rawBody) : undefined;
  }

  /** Counts, logs and announces a refused message. */
  refused(action: string, workerId: string | null, err: unknown): void {
    const reason = isRxonError(err) && typeof err.details.reason === "string" ? err.details.reason : "refused";
    const message = err instanceof Error ? err.message : String(err);
    this.counters.refused++;
    const skipped = this.#refusalLines.take(reason);
    // A refused timestamp says how far the sender's clock is from this hub's (seconds, + ahead).
    const skew = isRxonError(err) && typeof err.details.skew_s === "number" ? { skew_s: err.details.skew_s } : {};
    if (skipped !== undefined) this.logger.warn({ action, worker_id: workerId, reason, ...skew, ...(skipped > 0 ? { not_logged: skipped } : {}) }, `hub: refused ${action}: ${message}`);
    this.events.emit("message:refused", { action, workerId, reason, message });
  }

  /** Runs a background step, logging (never throwing) its failure. */
  background(what: string, step: () => unknown): void {
    try {
      const r = step();
      if (r instanceof Promise) r.catch((err: unknown) => this.failed(what, err));
    } catch (err) {
      this.failed(what, err);
    }
  }

  /**
   * Logs a failure of hub work no request waits for. A store that cannot be reached is logged
   * once, not once a second by every loop, until {@link storeAnswered} says it is back.
   */
  failed(what: string, err: unknown, fields: Record<string, unknown> = {}): void {
    if (err instanceof UnavailableError) {
      if (this.#storeDown) return;
      this.#storeDown = true;
      this.logger.error({ ...fields, err }, `hub: ${what} failed: the store is unavailable (requests that need it are answered 503 until it is back)`);
      return;
    }
    this.logger.error({ ...fields, err }, `hub: ${what} failed`);
  }

  /** Called when a store round trip of the hub's own housekeeping succeeded: logs the end of an outage. */
  storeAnswered(): void {
    if (!this.#storeDown) return;
    this.#storeDown = false;
    this.logger.info({}, "hub: the store answers again");
  }
}
