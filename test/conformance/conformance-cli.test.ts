/**
 * `rxon conformance --url`: passes against the project's own hub (open, and with credentials),
 * and reports each deviation of a deliberately broken orchestrator with its reason and exit 1.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import type { CliIo } from "../../src/cli/io.js";
import { Hub } from "../../src/hub/index.js";

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env, cwd: process.cwd() };
  const code = await main(argv, io);
  return { code, out, err };
}

describe("rxon conformance against the project's hub", () => {
  it("passes every check of an open hub", async () => {
    const hub = new Hub();
    const server = await hub.listen({ port: 0 });
    try {
      const r = await run(["conformance", "--url", server.url]);
      expect(r.out).not.toContain("FAIL");
      expect(r.out).toMatch(/^PASS register: 200 RegisterResponse/m);
      expect(r.out).toMatch(/^PASS poll: 204 \(no task\)$/m);
      expect(r.out).toMatch(/^conformance: 16 passed, 0 failed against /m);
      expect(r.code).toBe(0);
    } finally {
      await server.close();
      await hub.close();
    }
  }, 60_000);

  it("passes every check of a hub with worker credentials, signatures checked (token from the environment)", async () => {
    const hub = new Hub({ auth: { tokens: { "rxon-conformance": "conformance-secret" } } });
    const server = await hub.listen({ port: 0 });
    try {
      const r = await run(["conformance", "--url", server.url, "--json"], { RXON_TOKEN: "conformance-secret" });
      const report = JSON.parse(r.out) as { passed: number; failed: number; checks: { name: string; ok: boolean; detail: string }[] };
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      expect(report.checks.find((c) => c.name === "heartbeat with a bad signature")!.detail).toMatch(/^40[13] ErrorResponse$/);
      expect(report.checks.find((c) => c.name === "WebSocket without credentials")!.detail).toMatch(/^40[13]$/);
      expect(r.code).toBe(0);
    } finally {
      await server.close();
      await hub.close();
    }
  }, 60_000);
});

/** An orchestrator that gets several things wrong, each in a way a worker would trip over. */
function brokenOrchestrator(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const url = req.url ?? "";
    const json = (status: number, value: unknown, headers: Record<string, string> = { "X-RXON-Version": "9.9" }): void => {
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(JSON.stringify(value));
    };
    if (url === "/_worker/workers/register") {
      if (req.method !== "POST") return json(200, { status: "ok" }); // should be 405
      if (body.length > 1024 * 1024) return json(200, { status: "registered" }); // no size limit
      try {
        JSON.parse(body);
      } catch {
        return json(400, { error: `could not parse ${body.repeat(2000)}` }); // echoes the request, amplified
      }
      res.writeHead(200, { "Content-Type": "text/plain", "X-RXON-Version": "9.9" }); // not JSON
      return void res.end("registered");
    }
    if (url.startsWith("/_worker/workers/rxon-conformance/tasks/next")) return json(200, { job_id: "j1", type: "echo" }); // no task_id
    if (url === "/_worker/workers/rxon-conformance") return json(200, { status: "ok" }, {}); // no version header
    if (url === "/_worker/tasks/result") return json(200, { status: "accepted", transition: "success_transition" }); // accepts a result for no job
    if (url === "/_worker/events") return json(500, { error: "Traceback (most recent call last): KeyError 'payload'" });
    if (url === "/_worker/auth/token") return json(200, { access_token: "a", expires_in: "3600", worker_id: "rxon-conformance" }); // string expires_in
    res.writeHead(200, { "Content-Type": "text/plain" }); // unknown routes answered 200
    res.end("ok");
  });
}

describe("rxon conformance against a broken orchestrator", () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer(brokenOrchestrator);
    // Upgrades are refused with a 500.
    server.on("upgrade", (_req, socket) => socket.end("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("fails route by route with the reason, and exits 1", async () => {
    const r = await run(["conformance", "--url", url]);
    const line = (name: string): string => r.out.split("\n").find((l) => l.includes(` ${name}: `)) ?? `(no line for ${name})`;
    expect(line("unknown route")).toMatch(/^FAIL unknown route: expected HTTP 404, got 200: ok$/);
    expect(line("wrong method")).toMatch(/^FAIL wrong method: expected HTTP 405, got 200/);
    expect(line("register with malformed JSON")).toMatch(/^FAIL register with malformed JSON: error body of \d+ bytes for a request of 14 \(leaks or amplifies\)$/);
    expect(line("register with an oversized body")).toMatch(/^FAIL register with an oversized body: expected HTTP 413, got 200/);
    expect(line("register")).toMatch(/^FAIL register: expected a JSON body, got Content-Type "text\/plain"$/);
    expect(line("heartbeat")).toMatch(/^FAIL heartbeat: answer has no X-RXON-Version header$/);
    expect(line("poll")).toMatch(/^FAIL poll: body is not a valid TaskPayload: \/task_id is required$/);
    expect(line("result for an unknown job")).toMatch(/^FAIL result for an unknown job: expected \{"status":"ignored","reason":"job_not_found"\}, got /);
    expect(line("event")).toMatch(/^FAIL event: expected HTTP 200, got 500/);
    expect(line("STS token")).toMatch(/^FAIL STS token: body is not a valid TokenResponse: \/expires_in must be integer$/);
    expect(line("WebSocket")).toMatch(/^FAIL WebSocket: expected 101 Switching Protocols, got 500$/);
    expect(r.out).toMatch(/^conformance: \d+ passed, \d+ failed against /m);
    expect(r.code).toBe(1);
  }, 60_000);

  it("says when nothing answers", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await run(["conformance", "--url", `http://127.0.0.1:${port}`]);
    expect(r.out).toMatch(/^FAIL unknown route: no answer \(ECONNREFUSED\)$/m);
    expect(r.code).toBe(1);
  }, 60_000);

  it("exits 2 on usage errors", async () => {
    expect((await run(["conformance"])).code).toBe(2);
    expect((await run(["conformance", "--url", "ftp://x"])).code).toBe(2);
    expect((await run(["conformance", "--url", url, "--worker-id", "bad id"])).code).toBe(2);
    const help = await run(["conformance", "--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("rxon conformance --url <orchestrator>");
  });
});
