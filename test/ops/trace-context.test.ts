/** W3C trace context parsing and formatting, and spans with and without OpenTelemetry. */
import * as api from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import {
  cleanTracestate,
  formatTraceparent,
  parseTraceparent,
  startSpan,
  traceContextForTask,
  traceFromCarrier,
  traceOfSubmit,
  useOpenTelemetry,
  type OtelApi,
} from "../../src/tracing/index.js";
import { RecordingTracing } from "./otel-fake.js";

const TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

afterEach(() => {
  useOpenTelemetry(null);
});

describe("traceparent", () => {
  it("parses the specification's example and formats it back", () => {
    const ctx = parseTraceparent(TP, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    expect(ctx).toEqual({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", flags: 1, tracestate: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7" });
    expect(formatTraceparent(ctx!)).toBe(TP);
  });

  it("refuses malformed values instead of repairing them", () => {
    const bad = [
      undefined,
      42,
      "",
      TP.toUpperCase(),
      TP.replace(/^00/, "ff"),
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
      TP + "-extra",
      TP.slice(0, -1),
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333g-01",
      "x".repeat(10_000),
    ];
    for (const value of bad) expect(parseTraceparent(value), String(value).slice(0, 80)).toBeUndefined();
  });

  it("reads later versions by their first four fields", () => {
    expect(parseTraceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-comes-next")?.spanId).toBe("b7ad6b7169203331");
  });

  it("drops a tracestate that is too long, has too many members or bad members", () => {
    expect(cleanTracestate("a=1, b=2")).toBe("a=1,b=2");
    expect(cleanTracestate("a=" + "x".repeat(600))).toBeUndefined();
    expect(cleanTracestate(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(","))).toBeUndefined();
    expect(cleanTracestate("UPPER=1")).toBeUndefined();
    expect(cleanTracestate("a=b=c")).toBeUndefined();
    expect(parseTraceparent(TP, "bad state")?.tracestate).toBeUndefined();
  });

  it("reads carriers without trusting their prototype", () => {
    const carrier = Object.create({ traceparent: TP }) as Record<string, unknown>;
    expect(traceFromCarrier(carrier)).toBeUndefined();
    expect(traceFromCarrier({ traceparent: TP })?.traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(traceFromCarrier(null)).toBeUndefined();
    expect(traceFromCarrier([TP])).toBeUndefined();
  });
});

describe("hub helpers", () => {
  it("keeps a valid submitted trace and forgets an invalid one", () => {
    expect(traceOfSubmit({ traceparent: TP, tracestate: "a=1" })).toEqual({ traceparent: TP, tracestate: "a=1" });
    expect(traceOfSubmit({ traceparent: "nonsense" })).toBeUndefined();
    expect(traceOfSubmit({})).toBeUndefined();
  });

  it("puts the stored trace in tracing_context, re-parented on the hub's span when given", () => {
    expect(traceContextForTask({ traceparent: TP })).toEqual({ traceparent: TP });
    expect(traceContextForTask({ traceparent: TP, tracestate: "a=1" }, "1111111111111111")).toEqual({
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-1111111111111111-01",
      tracestate: "a=1",
    });
    expect(traceContextForTask(undefined)).toBeUndefined();
  });
});

describe("spans", () => {
  it("without OpenTelemetry: same trace, a new span id, nothing else", () => {
    useOpenTelemetry(null);
    const span = startSpan("x", parseTraceparent(TP, "a=1"));
    expect(span.context?.traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(span.context?.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(span.context?.spanId).not.toBe("b7ad6b7169203331");
    expect(span.context?.tracestate).toBe("a=1");
    expect(span.run(() => 7)).toBe(7);
    span.end({ code: "X" });
    expect(startSpan("root", undefined).context).toBeUndefined();
  });

  it("with @opentelemetry/api but no SDK: still a new span id of our own", () => {
    useOpenTelemetry(api as unknown as OtelApi);
    const span = startSpan("x", parseTraceparent(TP));
    expect(span.context?.traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(span.context?.spanId).not.toBe("b7ad6b7169203331");
  });

  it("with an SDK: real spans, parented on the remote context, active while running", () => {
    const tracing = new RecordingTracing();
    tracing.install();
    try {
      useOpenTelemetry(api as unknown as OtelApi);
      const span = startSpan("rxon.execute", parseTraceparent(TP), { kind: "consumer", attributes: { a: 1 } });
      const active = span.run(() => api.trace.getSpanContext(api.context.active())?.spanId);
      expect(active).toBe(span.context?.spanId);
      const child = span.child("rxon.result");
      child.end();
      span.end({ code: "TIMEOUT_ERROR", message: "late" });
      const [c, p] = tracing.spans;
      expect(p).toMatchObject({ name: "rxon.execute", traceId: "0af7651916cd43dd8448eb211c80319c", parentSpanId: "b7ad6b7169203331", kind: api.SpanKind.CONSUMER, status: { code: api.SpanStatusCode.ERROR, message: "late" } });
      expect(p!.attributes).toMatchObject({ a: 1, "rxon.error.code": "TIMEOUT_ERROR" });
      expect(c).toMatchObject({ name: "rxon.result", parentSpanId: p!.spanId, traceId: p!.traceId });
    } finally {
      tracing.uninstall();
    }
  });
});
