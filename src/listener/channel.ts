/**
 * The worker's WebSocket as the application sees it: a {@link CommandChannel} to send commands,
 * closed by either side; incoming text frames are events handed to the listener.
 */
import { WebSocket, type RawData } from "ws";
import type { WorkerCommand } from "../../generated/types.js";
import { NetworkError } from "../errors.js";
import { jsonText } from "./respond.js";
import type { CommandChannel } from "./types.js";

/** The channel over one accepted `ws` socket. */
export class WsCommandChannel implements CommandChannel {
  readonly workerId: string;
  readonly closed: Promise<void>;
  readonly #ws: WebSocket;

  constructor(ws: WebSocket, workerId: string) {
    this.#ws = ws;
    this.workerId = workerId;
    this.closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
  }

  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  send(command: WorkerCommand): Promise<void> {
    if (!this.isOpen) return Promise.reject(new NetworkError("The command channel is closed"));
    const text = jsonText(command);
    return new Promise<void>((resolve, reject) => {
      this.#ws.send(text, { binary: false }, (error) => {
        if (error) reject(new NetworkError("Could not send the command", { cause: error }));
        else resolve();
      });
    });
  }

  close(code = 1000, reason?: string): void {
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) this.#ws.close(code, reason);
  }
}

/**
 * Per-socket frame processing: events are handled one at a time in arrival order; the socket is
 * paused while too many are queued, and closed (1008) when malformed frames arrive faster than
 * `maxBadPerMinute`.
 */
export class FrameQueue {
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  #bad = 0;
  #badWindowStart = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly process: (text: string) => Promise<boolean>,
    private readonly maxPending: number,
    private readonly maxBadPerMinute: number,
  ) {}

  /** Called for every `message` event of the socket. */
  push(data: RawData, isBinary: boolean): void {
    // Binary frames are not part of the protocol: ignored, as by the orchestrator.
    if (isBinary) return;
    const text = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.from(data).toString("utf8");
    this.#pending++;
    if (this.#pending >= this.maxPending) this.ws.pause();
    this.#tail = this.#tail.then(async () => {
      let ok = false;
      try {
        ok = await this.process(text);
      } finally {
        this.#pending--;
        if (this.#pending < this.maxPending && this.ws.isPaused) this.ws.resume();
      }
      if (!ok) this.#countBad();
    });
  }

  #countBad(): void {
    const now = Date.now();
    if (now - this.#badWindowStart > 60_000) {
      this.#badWindowStart = now;
      this.#bad = 0;
    }
    if (++this.#bad > this.maxBadPerMinute && this.ws.readyState === WebSocket.OPEN) this.ws.close(1008, "Too many invalid messages");
  }
}
