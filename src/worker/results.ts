/**
 * Delivering a result. The transport already retries network errors a few times; this outer loop
 * covers longer outages, 429s and 503s with a small, bounded number of attempts (PROTOCOL.md 11 item 34:
 * nested loops multiply, so both stay short). Only a thrown error is retried: once the orchestrator
 * answered, accepted or ignored, the result is never sent again.
 */
import type { TaskPayload, TaskResult } from "../../generated/types.js";
import { isRxonError, NetworkError, ProtocolError, RateLimitError, ValidationError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { PollOptions, WorkerTransport } from "../transport/types.js";
import { Backoff } from "../transport/backoff.js";
import type { RateLimitHold } from "./rate-limit.js";
import type { WorkerClock } from "./types.js";

/** How a delivery ended. */
export type DeliveryOutcome =
  /** `next`: the worker's next task, when the delivery asked for it and the orchestrator had one. */
  | { readonly kind: "delivered"; readonly next?: TaskPayload }
  | { readonly kind: "ignored"; readonly reason: string }
  /** The result itself cannot be sent (e.g. data that has no canonical JSON form). */
  | { readonly kind: "invalid"; readonly error: ValidationError }
  | { readonly kind: "lost"; readonly error: unknown };

const DELIVERED: DeliveryOutcome = Object.freeze({ kind: "delivered" });

/** Settings of {@link deliverResult}. */
export interface DeliveryOptions {
  readonly attempts: number;
  readonly clock: WorkerClock;
  readonly logger: Logger;
  /**
   * Asked before each attempt: poll options when the answer may carry the worker's next task
   * (a slot will be free for it and no poll is out for it), else undefined.
   */
  readonly next?: () => PollOptions | undefined;
  /** Aborts the delivery (shutdown); the result then counts as lost. */
  readonly signal: AbortSignal;
  /** First wait between outer attempts. Default 1 s. */
  readonly initialDelayMs?: number;
  /**
   * The worker's shared wait after 429s. A 429 means the result was not taken, so it is tried
   * again after the wait without using up an attempt, up to {@link MAX_RATE_LIMITED} times.
   */
  readonly rateLimit?: RateLimitHold;
}

/** 429s one result may meet before it counts as lost (with a 10-minute cap, hours of waiting). */
export const MAX_RATE_LIMITED = 20;

/**
 * 503s ("unavailable for now": an orchestrator whose store is away, or that is starting or
 * stopping) one result may meet before it counts as lost. Like a 429 a 503 says the result was
 * not taken, so it does not use up an attempt: the waits grow with the backoff to its 30 s cap,
 * so a result outlives an outage of four to eight minutes (a lost one runs again on another worker).
 */
export const MAX_UNAVAILABLE = 20;

function unavailable(err: unknown): boolean {
  return err instanceof ProtocolError && err.status === 503;
}

function retryable(err: unknown): boolean {
  if (err instanceof RateLimitError || err instanceof NetworkError) return true;
  if (err instanceof ProtocolError && typeof err.status === "number") return err.status >= 500 || err.status === 408;
  return isRxonError(err) && err.retryable;
}

/** Sends `result` with bounded outer retries; never throws. */
export async function deliverResult(transport: WorkerTransport, result: TaskResult, options: DeliveryOptions): Promise<DeliveryOutcome> {
  const { attempts, clock, logger, signal } = options;
  const backoff = new Backoff(options.initialDelayMs ?? 1_000, 30_000);
  const hold = options.rateLimit;
  let limited = 0;
  let refused = 0;
  for (let attempt = 1; ; ) {
    if (hold?.holds() === true) await hold.wait(signal);
    if (signal.aborted) return { kind: "lost", error: signal.reason };
    try {
      const next = options.next?.();
      const delivery = await transport.sendResult(result, next !== undefined ? { signal, next } : { signal });
      hold?.succeeded();
      if (delivery.delivered) return delivery.response?.next_task !== undefined ? { kind: "delivered", next: delivery.response.next_task } : DELIVERED;
      return { kind: "ignored", reason: delivery.reason };
    } catch (err) {
      if (err instanceof ValidationError && !(err instanceof ProtocolError)) return { kind: "invalid", error: err };
      if (signal.aborted || !retryable(err)) return { kind: "lost", error: err };
      let delay: number;
      if (err instanceof RateLimitError && hold !== undefined) {
        if (++limited > MAX_RATE_LIMITED) return { kind: "lost", error: err };
        delay = hold.limited(err);
      } else if (unavailable(err) || err instanceof NetworkError) {
        // No answer at all (refused, reset, timed out) says no more than a 503: the orchestrator
        // is away for now. Counting these as attempts dropped a finished result after about 7 s of
        // a hub restart, and the hub then ran the whole task again once its lease expired.
        if (++refused > MAX_UNAVAILABLE) return { kind: "lost", error: err };
        delay = backoff.next();
        await clock.sleep(delay, signal);
      } else {
        if (attempt++ >= attempts) return { kind: "lost", error: err };
        delay = err instanceof RateLimitError ? Math.max(err.retryAfterMs, backoff.next()) : backoff.next();
        await clock.sleep(delay, signal);
      }
      logger.warn({ err, attempt, delay_ms: delay }, "result not delivered; retrying");
      if (signal.aborted) return { kind: "lost", error: err };
    }
  }
}
