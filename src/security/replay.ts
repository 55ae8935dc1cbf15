/**
 * Replay protection beyond the reference's bare timestamp window (PROTOCOL.md 7.4, 11.14): a
 * message is accepted once per (identity, timestamp) while its timestamp is inside the window.
 *
 * Entries live in buckets by timestamp; a bucket is dropped wholesale once every timestamp it
 * can hold has left the window (such messages are refused by the window check anyway), so memory
 * follows the message rate times the window, without per-entry timers or scans.
 *
 * Each sender has its own budget of remembered messages beside the global cap, so a sender that
 * floods signed messages fills only its own share and is the only one refused for it.
 */
import { createHash } from "node:crypto";
import { hashPayload } from "../wire/canonical.js";

/** Options of {@link ReplayGuard}. */
export interface ReplayGuardOptions {
  /** Accepted clock skew in either direction, in milliseconds. Default 60 000 (the orchestrator's 60 s). */
  windowMs?: number;
  /** Current time in milliseconds since the epoch. Default `Date.now`. */
  clock?: () => number;
  /** Hard cap on remembered messages; beyond it new messages are refused (`full`). Default 1 000 000. */
  maxEntries?: number;
  /**
   * Cap on remembered messages of one sender (the `sender` given to `record`); beyond it that
   * sender's new messages are refused (`sender_full`) while others are still accepted. Default
   * 50 000: 400 messages a second across the two-minute span of accepted timestamps.
   */
  maxEntriesPerSender?: number;
}

/** Verdict of {@link ReplayGuard.check} and {@link ReplayGuard.record}. */
export type ReplayVerdict = "accepted" | "replay" | "expired" | "future" | "full" | "sender_full";

/** Remembered messages of one bucket: their keys, and how many each sender owns. */
interface Bucket {
  readonly keys: Set<string>;
  readonly bySender: Map<string, number>;
}

const IDENTITY_MAX = 200;

/** Remembers accepted messages inside the timestamp window so that exact replays are refused. */
export class ReplayGuard {
  /** The window, in milliseconds. */
  readonly windowMs: number;
  readonly #clock: () => number;
  readonly #maxEntries: number;
  readonly #maxPerSender: number;
  readonly #bucketSeconds: number;
  readonly #buckets = new Map<number, Bucket>();
  /** Remembered messages per sender, across buckets. */
  readonly #senders = new Map<string, number>();
  #size = 0;
  #prunedAt = Number.NEGATIVE_INFINITY;

  constructor(options: ReplayGuardOptions = {}) {
    const windowMs = options.windowMs ?? 60_000;
    if (!(windowMs >= 0 && Number.isFinite(windowMs))) throw new RangeError("windowMs must be a finite number >= 0");
    this.windowMs = windowMs;
    this.#clock = options.clock ?? Date.now;
    this.#maxEntries = options.maxEntries ?? 1_000_000;
    this.#maxPerSender = options.maxEntriesPerSender ?? 50_000;
    // About eight buckets per window keep both the lookup and the pruning cheap.
    this.#bucketSeconds = Math.max(1, Math.ceil(windowMs / 8000));
  }

  /** Messages currently remembered. */
  get size(): number {
    return this.#size;
  }

  /** Messages currently remembered for `sender`. */
  sizeOf(sender: string): number {
    return this.#senders.get(sender) ?? 0;
  }

  /** Milliseconds after which the oldest remembered messages start to be forgotten (a full budget frees up). */
  get retryAfterMs(): number {
    return this.#bucketSeconds * 1000;
  }

  /** Current time of the guard's clock, in milliseconds. */
  now(): number {
    return this.#clock();
  }

  /**
   * Window check alone, as the orchestrator does it: |floor(now) − trunc(timestamp)| in whole
   * seconds may not exceed the window (exactly the window is accepted).
   */
  checkWindow(timestampSeconds: number, nowMs: number = this.#clock()): "accepted" | "expired" | "future" {
    const delta = Math.floor(nowMs / 1000) - Math.trunc(timestampSeconds);
    if (delta * 1000 > this.windowMs) return "expired";
    if (-delta * 1000 > this.windowMs) return "future";
    return "accepted";
  }

  /** Whether the message would be accepted, without remembering it. */
  check(identity: string, timestampSeconds: number, nowMs: number = this.#clock()): ReplayVerdict {
    const window = this.checkWindow(timestampSeconds, nowMs);
    if (window !== "accepted") return window;
    const ts = Math.trunc(timestampSeconds);
    return this.#buckets.get(this.#bucketOf(ts))?.keys.has(entryKey(identity, ts)) ? "replay" : "accepted";
  }

  /**
   * Checks and, when accepted, remembers the message until its timestamp leaves the window.
   * `sender` (e.g. the authenticated worker id) is charged for it against its own budget; without
   * one the message counts against the global cap only.
   */
  record(identity: string, timestampSeconds: number, nowMs: number = this.#clock(), sender?: string): ReplayVerdict {
    const window = this.checkWindow(timestampSeconds, nowMs);
    if (window !== "accepted") return window;
    this.#prune(nowMs);
    const ts = Math.trunc(timestampSeconds);
    const bucketIndex = this.#bucketOf(ts);
    let bucket = this.#buckets.get(bucketIndex);
    const key = entryKey(identity, ts);
    if (bucket?.keys.has(key)) return "replay";
    const owned = sender === undefined ? 0 : (this.#senders.get(sender) ?? 0);
    if (sender !== undefined && owned >= this.#maxPerSender) return "sender_full";
    if (this.#size >= this.#maxEntries) return "full";
    if (bucket === undefined) {
      bucket = { keys: new Set(), bySender: new Map() };
      this.#buckets.set(bucketIndex, bucket);
    }
    bucket.keys.add(key);
    if (sender !== undefined) {
      bucket.bySender.set(sender, (bucket.bySender.get(sender) ?? 0) + 1);
      this.#senders.set(sender, owned + 1);
    }
    this.#size++;
    return "accepted";
  }

  /** Forgets everything. */
  clear(): void {
    this.#buckets.clear();
    this.#senders.clear();
    this.#size = 0;
  }

  #bucketOf(ts: number): number {
    return Math.floor(ts / this.#bucketSeconds);
  }

  /** Drops buckets whose newest possible timestamp is already outside the window. */
  #prune(nowMs: number): void {
    const nowSeconds = Math.floor(nowMs / 1000);
    if (nowSeconds === this.#prunedAt) return;
    this.#prunedAt = nowSeconds;
    const oldestAccepted = nowSeconds - Math.floor(this.windowMs / 1000);
    for (const [index, bucket] of this.#buckets) {
      if ((index + 1) * this.#bucketSeconds - 1 < oldestAccepted) {
        this.#size -= bucket.keys.size;
        for (const [sender, count] of bucket.bySender) {
          const left = (this.#senders.get(sender) ?? count) - count;
          if (left <= 0) this.#senders.delete(sender);
          else this.#senders.set(sender, left);
        }
        this.#buckets.delete(index);
      }
    }
  }
}

function entryKey(identity: string, ts: number): string {
  // Long identities are hashed so that one entry costs a bounded amount of memory.
  const id = identity.length > IDENTITY_MAX ? createHash("sha256").update(identity).digest("base64") : identity;
  return ts + "\u0000" + id;
}

/**
 * What identifies a message for the replay guard: `event_id` for events, `job_id` + `task_id` for
 * results and other task-bound messages, else the signature (heartbeats, registrations), else the
 * hash of the whole canonical message. The timestamp is added by the guard.
 */
export function replayIdentity(message: Readonly<Record<string, unknown>>): string {
  const eventId = message.event_id;
  if (typeof eventId === "string" && eventId !== "") return "e\u0000" + eventId;
  const taskId = message.task_id;
  if (typeof taskId === "string" && taskId !== "") {
    const jobId = message.job_id;
    return "t\u0000" + (typeof jobId === "string" ? jobId : "") + "\u0000" + taskId;
  }
  const security = message.security as { signature?: unknown } | null | undefined;
  if (security && typeof security.signature === "string" && security.signature !== "") return "s\u0000" + security.signature;
  return "h\u0000" + hashPayload(message);
}
