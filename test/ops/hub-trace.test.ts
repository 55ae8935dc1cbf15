/**
 * A trace given at submit, end to end over HTTP: the client API's `traceparent` header, the hub's
 * TaskPayload `tracing_context`, a real Worker runtime whose handler sees the trace, and the
 * result and progress events that carry it back; with an OpenTelemetry SDK registered, the hub's
 * spans (submit, queue wait, dispatch, result) and the worker's execution span share the trace id.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as api from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { Hub } from "../../src/hub/index.js";
import { RxonListener, type RxonHandler } from "../../src/listener/index.js";
import { waitUntil } from "../../src/testing/index.js";
import { attachHubTracing, useOpenTelemetry, type OtelApi } from "../../src/tracing/index.js";
import { Worker, type TaskContext, type TaskTrace } from "../../src/worker/index.js";
import { RecordingTracing } from "./otel-fake.js";

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const CLIENT_SPAN = "b7ad6b7169203331";
const TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe("trace from submit to result", () => {
  it("reaches the handler and comes back on the result and events", async () => {
    const tracing = new RecordingTracing();
    tracing.install();
    useOpenTelemetry(api as unknown as OtelApi);
    cleanup.push(() => {
      tracing.uninstall();
      useOpenTelemetry(null);
    });
    const hub = new Hub({ clientTokens: ["ct"] });
    cleanup.push(() => hub.close());
    cleanup.push(attachHubTracing(hub));
    // The hub behind a listener of our own, recording what workers send.
    const received: { action: string; payload: Record<string, unknown> }[] = [];
    const handler = ((action: string, payload: unknown, ctx: unknown) => {
      if (action === "result" || action === "event") received.push({ action, payload: payload as Record<string, unknown> });
      return (hub.handler as (a: string, p: unknown, c: unknown) => Promise<unknown>)(action, payload, ctx);
    }) as RxonHandler;
    const listener = new RxonListener({ handler });
    const server: Server = listener.attach(createServer((req, res) => void hub.clientApi.handle(req, res)));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanup.push(async () => {
      await listener.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    let seen: TaskTrace | undefined;
    const traced = {
      info: { name: "traced", version: "1.0.0" },
      handler: async (_p: never, ctx: TaskContext) => {
        seen = ctx.trace;
        ctx.progress(0.5, "half");
        return { ok: true };
      },
    };
    const worker = new Worker({ url, workerId: "tw-1", skills: [traced], heartbeatIntervalMs: 60_000, progressIntervalMs: 0 });
    cleanup.push(() => worker.stop({ graceMs: 0 }));
    await worker.start();

    const res = await fetch(`${url}/_client/tasks`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Client-Token": "ct", traceparent: TRACEPARENT, tracestate: "vendor=1" },
      body: JSON.stringify({ type: "traced" }),
    });
    expect(res.status).toBe(202);
    const { job_id } = (await res.json()) as { job_id: string };
    await waitUntil(async () => (await hub.store.getJob(job_id))?.state === "finished", { timeoutMs: 10_000 });

    expect(seen).toMatchObject({ traceId: TRACE_ID, parentSpanId: CLIENT_SPAN, tracestate: "vendor=1" });
    const result = received.find((r) => r.action === "result")!.payload;
    expect((result.metadata as { tracing_context: { traceparent: string } }).tracing_context.traceparent).toBe(seen!.traceparent);
    const events = received.filter((r) => r.action === "event");
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect((e.payload.trace_context as { traceparent: string }).traceparent).toBe(seen!.traceparent);

    await waitUntil(() => tracing.spans.some((s) => s.name === "rxon.result" && s.kind === api.SpanKind.SERVER), { timeoutMs: 5_000 });
    const names = tracing.spans.filter((s) => s.traceId === TRACE_ID).map((s) => s.name);
    for (const n of ["rxon.submit", "rxon.queue_wait", "rxon.dispatch", "rxon.execute", "rxon.result"]) expect(names).toContain(n);
    for (const s of tracing.spans.filter((s) => s.name !== "rxon.result" || s.kind === api.SpanKind.SERVER)) {
      if (s.name.startsWith("rxon.") && s.name !== "rxon.execute") expect(s.parentSpanId).toBe(CLIENT_SPAN);
    }
  });
});
