/**
 * The live stream: Server-Sent Events to every open dashboard. One timer builds one summary per
 * tick and writes it to all streams, so the cost does not grow with the number of viewers
 * beyond the writes; a stream whose client stops reading is dropped instead of buffering.
 */
import type { ServerResponse } from "node:http";

/** Bytes a stream may have waiting in its socket before it counts as stalled and is closed. */
const MAX_BUFFERED = 1 << 20;

/** Open streams and their periodic summary. */
export class LiveStreams {
  readonly #clients = new Set<ServerResponse>();
  readonly #build: () => Promise<unknown>;
  readonly #intervalMs: number;
  readonly #max: number;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;

  constructor(build: () => Promise<unknown>, options: { intervalMs?: number; maxClients?: number } = {}) {
    this.#build = build;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#max = options.maxClients ?? 100;
  }

  /** Open streams. */
  get size(): number {
    return this.#clients.size;
  }

  /** True when another stream may be opened. */
  get hasRoom(): boolean {
    return this.#clients.size < this.#max;
  }

  /** Starts an event stream on `res` and sends a first summary at once. */
  open(res: ServerResponse): void {
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Accel-Buffering": "no",
      "X-Content-Type-Options": "nosniff",
    });
    res.write("retry: 2000\n\n");
    this.#clients.add(res);
    res.once("close", () => this.#drop(res));
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => void this.tick(), this.#intervalMs);
      this.#timer.unref();
    }
    void this.tick();
  }

  /** Sends one summary to every stream now. */
  async tick(): Promise<void> {
    if (this.#ticking || this.#clients.size === 0) return;
    this.#ticking = true;
    try {
      const data = JSON.stringify(await this.#build());
      const frame = `event: summary\ndata: ${data}\n\n`;
      for (const res of this.#clients) {
        if (res.writableLength > MAX_BUFFERED) {
          res.destroy();
          continue;
        }
        res.write(frame);
      }
    } catch {
      // A failed build skips one tick; the next one tries again.
    } finally {
      this.#ticking = false;
    }
  }

  /** Ends every stream and the timer. */
  close(): void {
    for (const res of [...this.#clients]) res.end();
    this.#clients.clear();
    this.#stop();
  }

  #drop(res: ServerResponse): void {
    this.#clients.delete(res);
    if (this.#clients.size === 0) this.#stop();
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
