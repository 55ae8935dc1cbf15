/**
 * Worker records a hub read lately, for its polls: with a store in another process (Redis) every
 * poll would otherwise cost a round trip and a decode of the whole record just to learn the
 * worker's status, profile and skills. An entry lives at most `ttlMs` (1 s by default) and goes at
 * once when this hub changes the worker (registration, heartbeat, touch) or any hub signals that
 * it changed (re-registered, drained, removed, expired); the only change it can miss for up to
 * `ttlMs` is a status sent in a heartbeat to another hub. Not used with an in-process store,
 * whose reads are already fresh and cheap.
 */
import { RecentMap } from "../recent.js";
import type { WorkerRecord } from "./store.js";

/** Entries kept at most (at least half of them, the most recent). */
const LIMIT = 65_536;

/** Worker id → the record read, until when it may be used (monotonic ms). */
export class WorkerCache {
  readonly #entries = new RecentMap<string, { readonly record: WorkerRecord; readonly until: number }>(LIMIT);

  constructor(
    private readonly ttlMs = 1000,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** The record read for `workerId` within the last `ttlMs`, if any. */
  get(workerId: string): WorkerRecord | undefined {
    const entry = this.#entries.get(workerId);
    if (entry === undefined) return undefined;
    if (entry.until > this.clock()) return entry.record;
    this.#entries.delete(workerId);
    return undefined;
  }

  /** Remembers a record just read from the store. */
  put(record: WorkerRecord): void {
    this.#entries.set(record.id, { record, until: this.clock() + this.ttlMs });
  }

  /** Forgets `workerId` (it changed). */
  forget(workerId: string): void {
    this.#entries.delete(workerId);
  }
}
