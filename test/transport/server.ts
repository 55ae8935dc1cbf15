/**
 * A small orchestrator stand-in for transport tests: node:http(s) + ws on 127.0.0.1, with canned
 * answers per route, a held long-poll, results deduplicated by task_id, STS endpoints, a command
 * WebSocket, and stop/restart on the same port.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

/** A scripted answer. */
export interface Canned {
  status: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON (content type application/json); a string as is. */
  body?: unknown;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Drop the connection instead of answering. */
  destroy?: boolean;
}

/** What the server saw. */
export interface Recorded {
  route: string;
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export type Route = "register" | "poll" | "result" | "heartbeat" | "event" | "sts_token" | "sts_refresh" | "unknown";

export interface TestServerOptions {
  /** Tokens accepted; others get 401. Undefined: everything accepted. */
  tokens?: Set<string>;
  /** How long an empty poll is held. Default 200 ms. */
  pollHoldMs?: number;
  /** TLS: serve https (and wss) with these; `requestCert` asks for a client certificate. */
  tls?: { key: string; cert: string; ca: string; requestCert?: boolean };
  /** Delay between recording a result and answering it (to break connections in between). */
  resultAnswerDelayMs?: number;
  /** Version header sent back. Default 1.0b14. */
  version?: string;
  /** The server's clock, for the `Date` header of its answers (epoch ms). Default: the real time. */
  now?: () => number;
}

function routeOf(method: string, path: string): Route {
  if (method === "POST" && path === "/_worker/workers/register") return "register";
  if (method === "GET" && /^\/_worker\/workers\/[^/]+\/tasks\/next$/.test(path)) return "poll";
  if (method === "POST" && path === "/_worker/tasks/result") return "result";
  if (method === "PATCH" && /^\/_worker\/workers\/[^/]+$/.test(path)) return "heartbeat";
  if (method === "POST" && path === "/_worker/events") return "event";
  if (method === "POST" && path === "/_worker/auth/token") return "sts_token";
  if (method === "POST" && path === "/_worker/auth/token/refresh") return "sts_refresh";
  return "unknown";
}

export class TestServer {
  port = 0;
  readonly requests: Recorded[] = [];
  readonly tasks: unknown[] = [];
  /** Accepted results by task_id, and how often each arrived. */
  readonly results = new Map<string, unknown>();
  readonly resultArrivals = new Map<string, number>();
  /** Results accepted for the first time (duplicates by task_id are not counted). */
  accepted = 0;
  /** Frames received on command sockets. */
  readonly wsFrames: string[] = [];
  /** Handshake headers of every accepted WebSocket. */
  readonly wsHandshakes: IncomingMessage["headers"][] = [];
  readonly wsClients = new Set<WebSocket>();
  /** Tokens issued by the STS endpoints. */
  issued = 0;
  private readonly canned = new Map<Route | "ws", Canned[]>();
  private readonly pollWaiters = new Set<() => void>();
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private wss: WebSocketServer | undefined;

  constructor(readonly options: TestServerOptions = {}) {}

  get url(): string {
    return `${this.options.tls ? "https" : "http"}://127.0.0.1:${this.port}`;
  }

  /** Queues a one-off answer for the next request on `route`. */
  next(route: Route | "ws", canned: Canned): this {
    const list = this.canned.get(route) ?? [];
    list.push(canned);
    this.canned.set(route, list);
    return this;
  }

  pushTask(task: unknown): void {
    this.tasks.push(task);
    for (const w of this.pollWaiters) w();
  }

  /** Sends a text frame to every open command socket; returns how many got it. */
  pushCommand(command: unknown): number {
    const text = typeof command === "string" ? command : JSON.stringify(command);
    let n = 0;
    for (const ws of this.wsClients) {
      if (ws.readyState === ws.OPEN) {
        ws.send(text);
        n++;
      }
    }
    return n;
  }

  routeRequests(route: Route): Recorded[] {
    return this.requests.filter((r) => r.route === route);
  }

  async start(): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    const tls = this.options.tls;
    const server = tls
      ? createHttpsServer({ key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: tls.requestCert ?? false, rejectUnauthorized: tls.requestCert ?? false }, handler)
      : createHttpServer(handler);
    server.keepAliveTimeout = 60_000;
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    server.on("secureConnection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    const wss = new WebSocketServer({ noServer: true });
    this.wss = wss;
    server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const refuse = (status: number, text: string, headers: Record<string, string> = {}): void => {
        const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
        socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${extra}Content-Length: 0\r\n\r\n`);
      };
      if (!/^\/_worker\/ws\/[^/]+$/.test(path)) return refuse(404, "Not Found");
      const canned = this.canned.get("ws")?.shift();
      if (canned) return refuse(canned.status, "Refused", canned.headers);
      if (!this.tokenOk(req)) return refuse(401, "Unauthorized");
      wss.handleUpgrade(req, socket, head, (ws) => {
        this.wsHandshakes.push(req.headers);
        this.wsClients.add(ws);
        ws.on("message", (data) => this.wsFrames.push(String(data)));
        ws.on("close", () => this.wsClients.delete(ws));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  /** Stops abruptly: open connections and sockets are destroyed, held polls dropped. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const ws of this.wsClients) ws.terminate();
    this.wsClients.clear();
    this.wss?.close();
    for (const w of this.pollWaiters) w();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    server.closeAllConnections();
    await closed;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private tokenOk(req: IncomingMessage): boolean {
    const tokens = this.options.tokens;
    if (!tokens) return true;
    const token = req.headers["x-worker-token"];
    return typeof token === "string" && tokens.has(token);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    if (this.options.now !== undefined) res.setHeader("Date", new Date(this.options.now()).toUTCString());
    const url = new URL(req.url ?? "/", "http://x");
    const route = routeOf(req.method ?? "", url.pathname);
    this.requests.push({ route, method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
    const gone = new AbortController();
    res.on("close", () => gone.abort());
    const canned = this.canned.get(route)?.shift();
    if (canned) {
      if (canned.delayMs) await delay(canned.delayMs, gone.signal);
      if (canned.destroy) {
        req.socket.destroy();
        return;
      }
      return this.send(res, canned.status, canned.body, canned.headers);
    }
    if (route !== "sts_refresh" && route !== "sts_token" && !this.tokenOk(req)) {
      return this.send(res, 401, { error: "Unauthorized" });
    }
    switch (route) {
      case "register":
        return this.send(res, 200, { status: "registered", version: this.options.version ?? "1.0b14" });
      case "poll": {
        if (this.tasks.length === 0) await this.holdPoll(gone.signal);
        const task = this.tasks.shift();
        if (task === undefined) return this.send(res, 204);
        return this.send(res, 200, task);
      }
      case "result": {
        const result = JSON.parse(body) as { task_id: string };
        const arrivals = (this.resultArrivals.get(result.task_id) ?? 0) + 1;
        this.resultArrivals.set(result.task_id, arrivals);
        // Dedupe by task_id: the first copy is accepted, later copies get the same answer.
        if (!this.results.has(result.task_id)) {
          this.results.set(result.task_id, result);
          this.accepted++;
        }
        if (this.options.resultAnswerDelayMs) await delay(this.options.resultAnswerDelayMs, gone.signal);
        return this.send(res, 200, { status: "accepted", transition: "success_transition" });
      }
      case "heartbeat":
        return this.send(res, 200, body === "" ? { status: "ttl_refreshed" } : { status: "ok" });
      case "event":
        return this.send(res, 200, { status: "event_accepted" });
      case "sts_token":
      case "sts_refresh": {
        this.issued++;
        const access = `access-${this.issued}`;
        this.options.tokens?.add(access);
        return this.send(res, 200, { access_token: access, refresh_token: `refresh-${this.issued}`, expires_in: 3600, worker_id: "w1" });
      }
      default:
        return this.send(res, 404, "404: Not Found", { "content-type": "text/plain" });
    }
  }

  private holdPoll(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.pollWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.options.pollHoldMs ?? 200);
      this.pollWaiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  private send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    if (res.destroyed || res.writableEnded) return;
    const h: Record<string, string> = { "x-rxon-version": this.options.version ?? "1.0b14", ...headers };
    let text = "";
    if (body !== undefined) {
      if (typeof body === "string") text = body;
      else {
        text = JSON.stringify(body);
        h["content-type"] ??= "application/json; charset=utf-8";
      }
    }
    res.writeHead(status, h);
    res.end(text);
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
