/**
 * A fake orchestrator on node:http, answering as the Python orchestrator does on the routes a
 * worker uses: registration, a long poll that hands out queued tasks, results, heartbeats and
 * events. It records every body it receives. No WebSocket (workers run with `commands: false`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export class FakeOrchestrator {
  readonly results: Record<string, unknown>[] = [];
  readonly events: Record<string, unknown>[] = [];
  readonly registrations: Record<string, unknown>[] = [];
  private readonly queue: Record<string, unknown>[] = [];
  /** Polls still to answer 404 "worker not found", as after an orchestrator restart. */
  forgetPolls = 0;
  private readonly server: Server;
  url = "";

  constructor() {
    this.server = createServer((req, res) => void this.route(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  push(task: Record<string, unknown>): void {
    this.queue.push(task);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const body = text === "" ? null : (JSON.parse(text) as Record<string, unknown>);
    const path = (req.url ?? "/").split("?")[0]!;
    const json = (status: number, value: unknown): void => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (req.method === "POST" && path === "/_worker/workers/register") {
      this.registrations.push(body!);
      return json(200, { status: "registered" });
    }
    if (req.method === "GET" && /^\/_worker\/workers\/[^/]+\/tasks\/next$/.test(path)) {
      if (this.forgetPolls > 0) {
        this.forgetPolls--;
        return json(404, { error: "Worker not found" });
      }
      const task = this.queue.shift();
      if (task !== undefined) return json(200, task);
      // A short hold, then "no task", as the orchestrator's poll timeout.
      await new Promise((r) => setTimeout(r, 100));
      res.writeHead(204);
      return void res.end();
    }
    if (req.method === "POST" && path === "/_worker/tasks/result") {
      this.results.push(body!);
      return json(200, { status: "accepted" });
    }
    if (req.method === "PATCH" && path.startsWith("/_worker/workers/")) return json(200, { status: "ok" });
    if (req.method === "POST" && path === "/_worker/events") {
      this.events.push(body!);
      return json(200, { status: "event_accepted" });
    }
    json(404, { error: "Not found" });
  }
}
