/**
 * The WebSocket command channel (PROTOCOL.md 2.3): one connection per transport, shared by every
 * `commands()` iterator and by `emitEvent`, reconnecting with backoff (1 s doubling to 60 s,
 * with jitter, reset after each successful handshake; at least `Retry-After` after a 429) for as
 * long as someone listens.
 * Malformed frames are logged and skipped; they never end the stream.
 */
import WebSocket, { type ClientOptions, type RawData } from "ws";
import { Limit } from "../../generated/constants.js";
import type { WorkerCommand } from "../../generated/types.js";
import { decode } from "../wire/codec.js";
import { parseJson } from "../wire/json.js";
import { Backoff, sleep } from "./backoff.js";
import type { ResolvedTransportOptions } from "./options.js";
import { parseRetryAfter } from "./retry-after.js";

/** One `commands()` iterator's mailbox. */
interface Subscriber {
  readonly queue: WorkerCommand[];
  wake: (() => void) | undefined;
}

/** What the channel needs from its transport. */
export interface ChannelDeps {
  /** The three common headers, with the current token. */
  headers(): Record<string, string>;
  /** Called after a 401 handshake answer; true when a new token was obtained. */
  refreshToken(): Promise<boolean>;
}

/** Shared WebSocket connection and reconnect loop of one transport. */
/** How long a command channel must have stayed open for its close to start the reconnect backoff over. */
const STABLE_MS = 10_000;
/** Close reason (with code 1008) of a hub replacing a worker's channel with a newer one of the same worker id. */
export const REPLACED_REASON = "New connection established";

export class CommandChannel {
  private readonly subscribers = new Set<Subscriber>();
  private socket: WebSocket | undefined;
  private loopStop: AbortController | undefined;
  private loop: Promise<void> | undefined;
  /** Said once: another connection of this worker id replaced this channel's. */
  private warnedReplaced = false;

  constructor(
    /** `ws://` or `wss://` URL of the worker's command route. */
    readonly url: string,
    private readonly wsOptions: ClientOptions,
    private readonly options: ResolvedTransportOptions,
    private readonly closed: AbortSignal,
    private readonly deps: ChannelDeps,
  ) {}

  /** True while a connection is open. */
  get isOpen(): boolean {
    return this.socket !== undefined && this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Sends one text frame over the open connection; false when there is none or the write failed
   * (the caller then falls back to HTTP).
   */
  send(text: string): Promise<boolean> {
    const ws = this.socket;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    return new Promise((resolve) => {
      ws.send(text, (error) => resolve(error === undefined || error === null));
    });
  }

  /** Commands as they arrive, until `signal` aborts or the transport closes. */
  async *iterate(signal?: AbortSignal): AsyncGenerator<WorkerCommand, void, undefined> {
    if (signal?.aborted || this.closed.aborted) return;
    const sub: Subscriber = { queue: [], wake: undefined };
    const wake = (): void => sub.wake?.();
    signal?.addEventListener("abort", wake);
    this.closed.addEventListener("abort", wake);
    this.subscribers.add(sub);
    this.ensureLoop();
    try {
      for (;;) {
        if (signal?.aborted || this.closed.aborted) return;
        const next = sub.queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => {
          sub.wake = resolve;
        });
        sub.wake = undefined;
      }
    } finally {
      signal?.removeEventListener("abort", wake);
      this.closed.removeEventListener("abort", wake);
      this.subscribers.delete(sub);
      if (this.subscribers.size === 0) this.stopLoop();
    }
  }

  /** Stops the loop and waits for it (transport close). */
  async stop(): Promise<void> {
    this.stopLoop();
    await this.loop;
  }

  private ensureLoop(): void {
    if (this.loopStop !== undefined && !this.loopStop.signal.aborted) return;
    const stop = new AbortController();
    this.loopStop = stop;
    const previous = this.loop ?? Promise.resolve();
    // A new loop starts only after the previous one let go of its socket.
    this.loop = previous.then(() => this.run(stop.signal));
  }

  private stopLoop(): void {
    this.loopStop?.abort();
  }

  private async run(stop: AbortSignal): Promise<void> {
    const onClosed = (): void => this.stopLoop();
    this.closed.addEventListener("abort", onClosed, { once: true });
    const backoff = new Backoff(this.options.wsBackoffInitialMs, this.options.wsBackoffMaxMs);
    try {
      while (!stop.aborted && !this.closed.aborted) {
        const { outcome, retryAfterMs, openMs, replaced } = await this.connectOnce(stop);
        if (stop.aborted || this.closed.aborted) break;
        // Only a connection that held starts the backoff over: one closed soon after it opened
        // (the orchestrator replacing it with another process's of the same worker id, say)
        // would otherwise be reopened every second for as long as the cause lasts.
        if (outcome === "opened" && (openMs ?? 0) >= STABLE_MS) backoff.reset();
        if (replaced && !this.warnedReplaced) {
          this.warnedReplaced = true;
          this.options.logger.warn({ url: this.url }, "Command channel replaced by another connection of this worker id: is another process running with the same id?");
        }
        if (outcome === "unauthorized") await this.deps.refreshToken().catch(() => false);
        // A rate-limited handshake waits at least as long as the orchestrator asked.
        const delay = Math.max(backoff.next(), retryAfterMs ?? 0);
        this.options.logger.info({ url: this.url, delay_ms: delay }, "Command channel disconnected; reconnecting");
        await sleep(delay, stop);
      }
    } finally {
      this.closed.removeEventListener("abort", onClosed);
    }
  }

  /** One connection, from handshake to close. */
  private connectOnce(stop: AbortSignal): Promise<{ outcome: "opened" | "failed" | "unauthorized"; retryAfterMs?: number; openMs?: number; replaced?: boolean }> {
    const { logger } = this.options;
    return new Promise((resolve) => {
      let outcome: "opened" | "failed" | "unauthorized" = "failed";
      let retryAfterMs: number | undefined;
      let alive = true;
      let pinger: NodeJS.Timeout | undefined;
      const ws = new WebSocket(this.url, {
        ...this.wsOptions,
        headers: this.deps.headers(),
        maxPayload: Limit.MAX_WS_MESSAGE_BYTES,
        perMessageDeflate: false,
        handshakeTimeout: this.options.requestTimeoutMs,
      });
      const onStop = (): void => ws.terminate();
      stop.addEventListener("abort", onStop, { once: true });
      ws.on("unexpected-response", (_req, res) => {
        if (res.statusCode === 401) outcome = "unauthorized";
        if (res.statusCode === 429) {
          const header = res.headers["retry-after"];
          retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header, this.options.clock(), this.options.rateLimitMaxMs) ?? this.options.rateLimitDefaultMs;
        }
        logger.warn({ url: this.url, status: res.statusCode }, "Command channel handshake refused");
        res.resume();
        ws.terminate();
      });
      let openedAt = 0;
      ws.on("open", () => {
        outcome = "opened";
        openedAt = performance.now();
        this.socket = ws;
        logger.info({ url: this.url }, "Command channel open");
        if (this.options.wsPingIntervalMs > 0) {
          pinger = setInterval(() => {
            // No pong (or frame) since the last ping: the path is dead even if TCP has not noticed.
            if (!alive) return ws.terminate();
            alive = false;
            ws.ping();
          }, this.options.wsPingIntervalMs);
          pinger.unref();
        }
      });
      ws.on("pong", () => {
        alive = true;
      });
      ws.on("message", (data, isBinary) => {
        alive = true;
        this.deliver(data, isBinary);
      });
      ws.on("error", (error) => {
        if (!stop.aborted) logger.warn({ url: this.url, err: error }, "Command channel error");
      });
      ws.on("close", (code, reason) => {
        if (pinger !== undefined) clearInterval(pinger);
        stop.removeEventListener("abort", onStop);
        if (this.socket === ws) this.socket = undefined;
        const openMs = openedAt === 0 ? undefined : performance.now() - openedAt;
        const replaced = code === 1008 && reason.toString() === REPLACED_REASON;
        resolve({ outcome, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), ...(openMs !== undefined ? { openMs } : {}), replaced });
      });
    });
  }

  private deliver(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.options.logger.debug({ url: this.url }, "Binary frame on the command channel ignored");
      return;
    }
    let command: WorkerCommand;
    try {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
      command = decode("WorkerCommand", parseJson(bytes, { maxBytes: Limit.MAX_WS_MESSAGE_BYTES }), { copy: false });
    } catch (error) {
      this.options.logger.warn({ url: this.url, err: error }, "Malformed command frame skipped");
      return;
    }
    let first = true;
    for (const sub of this.subscribers) {
      // Each iterator gets its own copy, so one consumer's changes cannot leak into another's.
      sub.queue.push(first ? command : structuredClone(command));
      first = false;
      sub.wake?.();
    }
  }
}
