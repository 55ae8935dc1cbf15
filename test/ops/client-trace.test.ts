/** The client API passes the caller's W3C trace headers on to `hub.submit`, and drops malformed ones. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ClientApi, type ClientApiHub, type SubmitOptions, type TaskHandle } from "../../src/hub/index.js";

const TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A hub that records submissions (the client API's only dependency). */
function recordingHub(): ClientApiHub & { submitted: SubmitOptions[] } {
  const submitted: SubmitOptions[] = [];
  return {
    submitted,
    submit(options) {
      submitted.push(options);
      return { jobId: `job-${submitted.length}`, taskId: "task-1", status: "waiting_for_worker", result: () => new Promise(() => {}), cancel: async () => {} } as TaskHandle;
    },
    cancel: async () => {},
    store: { getJob: () => undefined },
    on: () => undefined,
  };
}

async function serve(api: ClientApi): Promise<string> {
  const server: Server = createServer((req, res) => void api.handle(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function submit(url: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${url}/_client/tasks`, { method: "POST", headers: { "Content-Type": "application/json", "X-Client-Token": "ct", ...headers }, body: JSON.stringify({ type: "echo" }) });
  await res.arrayBuffer();
  return res.status;
}

describe("client API trace headers", () => {
  it("hands traceparent and tracestate to submit", async () => {
    const hub = recordingHub();
    const url = await serve(new ClientApi(hub, { tokens: ["ct"] }));
    expect(await submit(url, { traceparent: TP, tracestate: "vendor=1" })).toBe(202);
    expect(hub.submitted[0]).toMatchObject({ type: "echo", traceparent: TP, tracestate: "vendor=1" });
  });

  it("accepts the task without a trace when the header is malformed or absent", async () => {
    const hub = recordingHub();
    const url = await serve(new ClientApi(hub, { tokens: ["ct"] }));
    expect(await submit(url, { traceparent: "00-zz-yy-01", tracestate: "vendor=1" })).toBe(202);
    expect(await submit(url, {})).toBe(202);
    for (const s of hub.submitted) {
      expect(s.traceparent).toBeUndefined();
      expect(s.tracestate).toBeUndefined();
    }
  });
});
