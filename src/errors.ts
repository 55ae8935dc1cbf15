/**
 * The rxon error hierarchy: one base class carrying a protocol error code, a `retryable` flag,
 * an optional HTTP status and a `cause`; subclasses exist only where callers branch on them.
 */
import { ErrorCode } from "../generated/constants.js";

/** A problem found in a value, located by a JSON pointer (RFC 6901; "" is the root). */
export interface ValidationIssue {
  /** JSON pointer of the offending value, e.g. `/supported_skills/0/name`. */
  readonly path: string;
  /** Human-readable description of the problem. */
  readonly message: string;
}

/** Options shared by every rxon error. */
export interface RxonErrorOptions {
  /** Protocol error code (see `ErrorCode`), or an application-defined code. */
  code?: string;
  /** Whether repeating the same operation later may succeed. */
  retryable?: boolean;
  /** HTTP status that best describes the error when it crosses the wire. */
  status?: number;
  /** The underlying error. */
  cause?: unknown;
  /** Structured, non-secret details for logs and callers. */
  details?: Readonly<Record<string, unknown>>;
}

/** Base class of every error thrown by rxon. */
export class RxonError extends Error {
  /** Protocol error code, e.g. `INVALID_INPUT_ERROR`. */
  readonly code: string;
  /** Whether repeating the operation later may succeed. */
  readonly retryable: boolean;
  /** HTTP status to use when this error is answered on the wire, if any. */
  readonly status: number | undefined;
  /** Structured details. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(message: string, options: RxonErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code ?? ErrorCode.INTERNAL_ERROR;
    this.retryable = options.retryable ?? false;
    this.status = options.status;
    this.details = options.details ?? {};
  }
}

/** Input that does not satisfy a schema, a size or depth limit, or JSON syntax. */
export class ValidationError extends RxonError {
  /** Every problem found, each with a JSON pointer. */
  readonly errors: readonly ValidationIssue[];

  constructor(message: string, errors: readonly ValidationIssue[] = [], options: RxonErrorOptions = {}) {
    super(message, { code: ErrorCode.INVALID_INPUT_ERROR, status: 400, ...options });
    this.errors = errors;
  }
}

/** Authentication or authorization failure (bad token, bad signature, replay, identity mismatch). */
export class AuthError extends RxonError {
  constructor(message: string, options: RxonErrorOptions = {}) {
    super(message, { code: ErrorCode.SECURITY_ERROR, status: 403, ...options });
  }
}

/** The peer answered with an HTTP status or a body that the protocol does not allow here. */
export class ProtocolError extends RxonError {
  constructor(message: string, options: RxonErrorOptions = {}) {
    super(message, { code: ErrorCode.TRANSIENT_ERROR, ...options });
  }
}

/** HTTP 429: the caller must wait `retryAfterMs` before trying again. */
export class RateLimitError extends ProtocolError {
  /** How long to wait before retrying, in milliseconds. */
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number, options: RxonErrorOptions = {}) {
    super(message, { code: ErrorCode.LIMIT_EXCEEDED_ERROR, status: 429, retryable: true, ...options });
    this.retryAfterMs = retryAfterMs;
  }
}

/** The connection failed, was reset or timed out; the operation may be retried. */
export class NetworkError extends RxonError {
  constructor(message: string, options: RxonErrorOptions = {}) {
    super(message, { code: ErrorCode.TRANSIENT_ERROR, retryable: true, ...options });
  }
}

/**
 * A service the operation needs (the hub's store, say) cannot be reached or is not ready, and the
 * same request may succeed later. Answered 503 with `Retry-After`. What the operation would have
 * changed was not changed, unless it had already reached the service when it failed (then the
 * change may stand; a retry of a hub transition is safe either way).
 */
export class UnavailableError extends RxonError {
  /** How long a caller should wait before trying again, in ms. */
  readonly retryAfterMs: number;

  constructor(message: string, options: RxonErrorOptions & { retryAfterMs?: number } = {}) {
    super(message, { code: ErrorCode.TRANSIENT_ERROR, retryable: true, status: 503, ...options });
    this.retryAfterMs = options.retryAfterMs ?? 1000;
  }
}

/** True when `value` is an rxon error (an instance of {@link RxonError} from this module). */
export function isRxonError(value: unknown): value is RxonError {
  return value instanceof RxonError;
}
