/**
 * An in-memory {@link WorkerTransport} for testing workers without a server (PROTOCOL.md 10.5):
 * queues for tasks and commands, a record of everything sent, configurable answers. It stamps,
 * signs and decodes exactly like the real transport, so a worker that works against the mock
 * sends what an orchestrator accepts.
 */
import type {
  Heartbeat,
  HeartbeatResponse,
  RegisterResponse,
  ResultResponse,
  TaskPayload,
  TaskResult,
  TokenResponse,
  WorkerCommand,
  WorkerEventPayload,
  WorkerRegistration,
} from "../../generated/types.js";
import { ProtocolError, ValidationError } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import { closedError } from "../transport/http-client.js";
import { prepareOutgoing, type MessageSigner } from "../transport/outgoing.js";
import type { Ed25519PrivateKey } from "../security/ed25519.js";
import type { TransportOptions } from "../transport/options.js";
import { registerTransportScheme } from "../transport/schemes.js";
import { createSigner, type SignatureAlgorithm } from "../transport/signing.js";
import type { CallOptions, PollOptions, ResultDelivery, SkillCallOptions, SkillCallOutcome, WorkerTransport } from "../transport/types.js";
import { decode, type ModelName, type Models } from "../wire/codec.js";
import { waitUntil, type WaitOptions } from "./wait.js";

/** An answer given as a value or computed from what was sent. */
export type MockAnswer<In, Out> = Out | ((sent: In) => Out | Promise<Out>);

/** The operations whose next calls can be made to fail with {@link MockTransport.failNext}. */
export type MockOperation = "register" | "poll" | "result" | "heartbeat" | "event" | "refresh" | "skillCall";

/** A skill call as the mock received it. */
export interface MockSkillCall {
  readonly skill_name: string;
  readonly params: Record<string, unknown>;
}

/** Options of {@link MockTransport}. */
export interface MockTransportOptions {
  /** Default `mock-worker`. */
  workerId?: string;
  /** Default `mock-token`. */
  token?: string;
  logger?: Logger;
  /** Wall clock in milliseconds for message timestamps. Default `Date.now`. */
  clock?: () => number;
  /** HMAC secret: sign what is sent, as the real transport does. */
  secret?: string;
  /** Ed25519 private key to sign with. */
  ed25519Key?: Ed25519PrivateKey | Uint8Array | string;
  /** Which signature when both a secret and a key are given (see TransportOptions). */
  signatureAlgorithm?: SignatureAlgorithm;
  /** Sign outgoing messages. Default: true when `secret` or `ed25519Key` is given. */
  sign?: boolean;
  /** Answer to registrations. Default `{status: "registered", worker_id}`. */
  registerResponse?: MockAnswer<WorkerRegistration, RegisterResponse | null>;
  /** Answer to results; `{status: "ignored", reason, message}` makes `sendResult` report it undelivered. Default `{status: "ok"}`. */
  resultResponse?: MockAnswer<TaskResult, ResultResponse | null>;
  /** Answer to heartbeats (directives such as `cancel_task_ids`). Default `{status: "ok"}`. */
  heartbeatResponse?: MockAnswer<Heartbeat | null, HeartbeatResponse | null>;
  /** Whether events are accepted. Default true. */
  eventResponse?: MockAnswer<WorkerEventPayload, boolean>;
  /** Outcome of `callSkill` (a handler's `ctx.callSkill`). Default `{status: "success", data: {}}`. */
  skillCallResponse?: MockAnswer<MockSkillCall, SkillCallOutcome>;
}

interface Waiter<T> {
  resolve(value: T): void;
}

/** In-memory transport; see {@link MockTransportOptions}. */
export class MockTransport implements WorkerTransport {
  readonly workerId: string;
  /** Current token (`refreshed-mock-token` after {@link refreshToken}). */
  token: string;
  /** True between the first call (or `connect()`) and `close()`. */
  connected = false;
  /** Registrations sent, as stamped and signed. */
  readonly registrations: WorkerRegistration[] = [];
  /** Results sent, as stamped and signed. */
  readonly results: TaskResult[] = [];
  /** Heartbeats sent (null for an empty TTL refresh). */
  readonly heartbeats: (Heartbeat | null)[] = [];
  /** Events sent, as stamped and signed. */
  readonly events: WorkerEventPayload[] = [];
  /** Options of every poll, in order. */
  readonly polls: PollOptions[] = [];
  /** Skill calls made (`ctx.callSkill`), in order. */
  readonly skillCalls: MockSkillCall[] = [];
  /** How often the token was refreshed. */
  refreshCount = 0;
  /** Answers; may be changed at any time. */
  registerResponse: MockAnswer<WorkerRegistration, RegisterResponse | null>;
  resultResponse: MockAnswer<TaskResult, ResultResponse | null>;
  heartbeatResponse: MockAnswer<Heartbeat | null, HeartbeatResponse | null>;
  eventResponse: MockAnswer<WorkerEventPayload, boolean>;
  skillCallResponse: MockAnswer<MockSkillCall, SkillCallOutcome>;

  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly signer: MessageSigner | undefined;
  private readonly tasks: unknown[] = [];
  private readonly pendingCommands: unknown[] = [];
  private readonly taskWaiters = new Set<Waiter<void>>();
  private readonly commandWaiters = new Set<{ queue: unknown[]; wake: () => void }>();
  private readonly failures = new Map<MockOperation, unknown[]>();
  private closer = new AbortController();

  constructor(options: MockTransportOptions = {}) {
    this.workerId = options.workerId ?? "mock-worker";
    this.token = options.token ?? "mock-token";
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? Date.now;
    this.signer = createSigner(this.workerId, options);
    this.registerResponse = options.registerResponse ?? ((): RegisterResponse => ({ status: "registered", worker_id: this.workerId }) as RegisterResponse);
    this.resultResponse = options.resultResponse ?? { status: "ok" };
    this.heartbeatResponse = options.heartbeatResponse ?? { status: "ok" };
    this.eventResponse = options.eventResponse ?? true;
    this.skillCallResponse = options.skillCallResponse ?? { status: "success", data: {} };
  }

  /** Queues a task for `pollTask` (decoded, like a received one, when it is polled). */
  pushTask(task: TaskPayload | Record<string, unknown>): void {
    this.tasks.push(task);
    for (const w of this.taskWaiters) w.resolve();
  }

  /** Queues a command for `commands()` iterators (malformed ones are logged and skipped on delivery). */
  pushCommand(command: WorkerCommand | Record<string, unknown>): void {
    if (this.commandWaiters.size === 0) {
      this.pendingCommands.push(command);
      return;
    }
    for (const w of this.commandWaiters) {
      w.queue.push(command);
      w.wake();
    }
  }

  /** Makes the next call of `operation` throw `error` (queued: call it several times for several failures). */
  failNext(operation: MockOperation, error: unknown): void {
    const list = this.failures.get(operation) ?? [];
    list.push(error);
    this.failures.set(operation, list);
  }

  /** Number of tasks pushed and not yet polled. */
  get queuedTasks(): number {
    return this.tasks.length;
  }

  /** Waits until `condition(this)` is truthy (e.g. `m => m.results.length >= 3`). */
  waitFor<T>(condition: (mock: this) => T, options?: WaitOptions): Promise<NonNullable<T>> {
    return waitUntil(() => condition(this), options);
  }

  async connect(): Promise<void> {
    if (this.closer.signal.aborted) this.closer = new AbortController();
    this.connected = true;
  }

  async close(): Promise<void> {
    this.connected = false;
    this.closer.abort(closedError());
    for (const w of this.taskWaiters) w.resolve();
    for (const w of this.commandWaiters) w.wake();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async register(registration: WorkerRegistration, options: CallOptions = {}): Promise<RegisterResponse | null> {
    this.enter("register", options.signal);
    const { message } = prepareOutgoing("register", registration, this.clock(), this.signer);
    this.registrations.push(message);
    const answer = await answerOf(this.registerResponse, message);
    return answer === null ? null : decodeAnswer("RegisterResponse", answer);
  }

  async pollTask(options: PollOptions = {}): Promise<TaskPayload | null> {
    this.enter("poll", options.signal);
    this.polls.push({ ...options });
    const timeoutMs = Math.max(0, (options.timeoutSeconds ?? 30) * 1000);
    if (this.tasks.length === 0 && timeoutMs > 0) await this.waitForTask(timeoutMs, options.signal);
    if (options.signal?.aborted) throw options.signal.reason;
    if (this.closer.signal.aborted) throw closedError();
    if (this.tasks.length === 0) return null;
    const raw = this.tasks.shift();
    try {
      return decode("TaskPayload", raw);
    } catch (error) {
      throw new ProtocolError(`Malformed task from the mock orchestrator: ${(error as Error).message}`, {
        cause: error,
        details: { errors: error instanceof ValidationError ? error.errors : [] },
      });
    }
  }

  async sendResult(result: TaskResult, options: CallOptions = {}): Promise<ResultDelivery> {
    this.enter("result", options.signal);
    const { message } = prepareOutgoing("result", result, this.clock(), this.signer);
    this.results.push(message);
    const answer = await answerOf(this.resultResponse, message);
    if (answer === null) return { delivered: true, response: null };
    if (answer.status === "ignored") {
      const reason = answer.reason ?? "unknown";
      return { delivered: false, reason, message: answer.message ?? "", response: answer };
    }
    return { delivered: true, response: decodeAnswer("ResultResponse", answer) };
  }

  async sendHeartbeat(heartbeat: Heartbeat | null, options: CallOptions = {}): Promise<HeartbeatResponse | null> {
    this.enter("heartbeat", options.signal);
    const message = heartbeat === null ? null : prepareOutgoing("heartbeat", heartbeat, this.clock(), this.signer).message;
    this.heartbeats.push(message);
    const answer = await answerOf(this.heartbeatResponse, message);
    return answer === null ? null : decodeAnswer("HeartbeatResponse", answer);
  }

  async emitEvent(event: WorkerEventPayload, options: CallOptions = {}): Promise<boolean> {
    this.enter("event", options.signal);
    const { message } = prepareOutgoing("event", event, this.clock(), this.signer);
    this.events.push(message);
    return answerOf(this.eventResponse, message);
  }

  commands(options: CallOptions = {}): AsyncIterable<WorkerCommand> {
    return { [Symbol.asyncIterator]: () => this.iterateCommands(options.signal) };
  }

  async refreshToken(options: CallOptions = {}): Promise<TokenResponse | null> {
    this.enter("refresh", options.signal);
    this.refreshCount++;
    this.token = "refreshed-mock-token";
    return { access_token: this.token, expires_in: 3600, worker_id: this.workerId };
  }

  /** Records the call and answers `skillCallResponse`; `failNext("skillCall", err)` makes it reject. */
  async callSkill(name: string, params: Record<string, unknown>, options: SkillCallOptions = {}): Promise<SkillCallOutcome> {
    this.enter("skillCall", options.signal);
    const call: MockSkillCall = { skill_name: name, params: { ...params } };
    this.skillCalls.push(call);
    return answerOf(this.skillCallResponse, call);
  }

  /** Common entry of every call: closed and aborted checks, injected failures, lazy connect. */
  private enter(operation: MockOperation, signal: AbortSignal | undefined): void {
    if (this.closer.signal.aborted) throw closedError();
    if (signal?.aborted) throw signal.reason;
    this.connected = true;
    const failure = this.failures.get(operation)?.shift();
    if (failure !== undefined) throw failure;
  }

  private waitForTask(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.taskWaiters.delete(waiter);
        resolve();
      };
      const waiter: Waiter<void> = { resolve: done };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener("abort", done, { once: true });
      this.taskWaiters.add(waiter);
    });
  }

  private async *iterateCommands(signal: AbortSignal | undefined): AsyncGenerator<WorkerCommand, void, undefined> {
    if (this.closer.signal.aborted || signal?.aborted) return;
    this.connected = true;
    const closed = this.closer.signal;
    const entry = { queue: this.pendingCommands.splice(0), wake: (): void => {} };
    let wakeUp: (() => void) | undefined;
    entry.wake = () => wakeUp?.();
    signal?.addEventListener("abort", entry.wake);
    this.commandWaiters.add(entry);
    try {
      for (;;) {
        if (closed.aborted || signal?.aborted) return;
        if (entry.queue.length > 0) {
          let command: WorkerCommand;
          try {
            command = decode("WorkerCommand", entry.queue.shift());
          } catch (error) {
            this.logger.warn({ err: error }, "Malformed command skipped");
            continue;
          }
          yield command;
          continue;
        }
        await new Promise<void>((resolve) => {
          wakeUp = resolve;
        });
        wakeUp = undefined;
      }
    } finally {
      signal?.removeEventListener("abort", entry.wake);
      this.commandWaiters.delete(entry);
    }
  }
}

async function answerOf<In, Out>(answer: MockAnswer<In, Out>, sent: In): Promise<Out> {
  return typeof answer === "function" ? (answer as (sent: In) => Out | Promise<Out>)(sent) : answer;
}

function decodeAnswer<M extends ModelName>(model: M, value: unknown): Models[M] {
  try {
    return decode(model, value);
  } catch (error) {
    throw new ProtocolError(`Malformed answer of the mock orchestrator: ${(error as Error).message}`, { cause: error });
  }
}

/** The transport options that also mean something to the mock. */
function mockOptions(options: TransportOptions): MockTransportOptions {
  const out: MockTransportOptions = {};
  if (options.logger !== undefined) out.logger = options.logger;
  if (options.clock !== undefined) out.clock = options.clock;
  if (options.secret !== undefined) out.secret = options.secret;
  if (options.ed25519Key !== undefined) out.ed25519Key = options.ed25519Key;
  if (options.sign !== undefined) out.sign = options.sign;
  if (options.signatureAlgorithm !== undefined) out.signatureAlgorithm = options.signatureAlgorithm;
  return out;
}

// `createTransport("mock://...")` works once this module is loaded (the factory does not import test helpers).
registerTransportScheme("mock", (_url, workerId, token, options) => new MockTransport({ workerId, token, ...mockOptions(options) }));
