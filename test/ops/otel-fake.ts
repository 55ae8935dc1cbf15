/**
 * A tiny OpenTelemetry SDK stand-in for tests: a tracer provider recording finished spans and an
 * AsyncLocalStorage context manager, registered on the real `@opentelemetry/api`.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import * as api from "@opentelemetry/api";

export interface RecordedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  kind: number;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string } | undefined;
  start: number;
  end: number | undefined;
}

class Span implements api.Span {
  readonly record: RecordedSpan;
  constructor(
    private readonly ctx: api.SpanContext,
    name: string,
    parent: api.SpanContext | undefined,
    options: api.SpanOptions,
    private readonly done: (s: RecordedSpan) => void,
  ) {
    const start = options.startTime;
    this.record = {
      name,
      traceId: ctx.traceId,
      spanId: ctx.spanId,
      parentSpanId: parent?.spanId,
      kind: options.kind ?? api.SpanKind.INTERNAL,
      attributes: { ...(options.attributes ?? {}) },
      status: undefined,
      start: typeof start === "number" ? start : Date.now(),
      end: undefined,
    };
  }
  spanContext(): api.SpanContext {
    return this.ctx;
  }
  setAttribute(key: string, value: api.AttributeValue): this {
    this.record.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: api.Attributes): this {
    Object.assign(this.record.attributes, attributes);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: api.SpanStatus): this {
    this.record.status = status;
    return this;
  }
  updateName(name: string): this {
    this.record.name = name;
    return this;
  }
  end(endTime?: api.TimeInput): void {
    if (this.record.end !== undefined) return;
    this.record.end = typeof endTime === "number" ? endTime : Date.now();
    this.done(this.record);
  }
  isRecording(): boolean {
    return this.record.end === undefined;
  }
  recordException(): void {}
}

/** Records spans; `install()` registers it and a context manager globally, `uninstall()` removes both. */
export class RecordingTracing {
  readonly spans: RecordedSpan[] = [];
  /** Span ids seen as active inside `context.with` callbacks that asked. */
  private readonly storage = new AsyncLocalStorage<api.Context>();

  install(): void {
    const storage = this.storage;
    const manager: api.ContextManager = {
      active: () => storage.getStore() ?? api.ROOT_CONTEXT,
      with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.call(thisArg, ...args)),
      bind: (_ctx, target) => target,
      enable() {
        return this;
      },
      disable() {
        return this;
      },
    };
    api.context.setGlobalContextManager(manager);
    const spans = this.spans;
    const tracer: api.Tracer = {
      startSpan(name, options = {}, ctx) {
        const parent = api.trace.getSpanContext(ctx ?? api.context.active());
        const sc: api.SpanContext = {
          traceId: parent?.traceId ?? randomBytes(16).toString("hex"),
          spanId: randomBytes(8).toString("hex"),
          traceFlags: parent?.traceFlags ?? 1,
          ...(parent?.traceState !== undefined ? { traceState: parent.traceState } : {}),
        };
        return new Span(sc, name, parent, options, (r) => spans.push(r));
      },
      startActiveSpan: (() => {
        throw new Error("not used");
      }) as api.Tracer["startActiveSpan"],
    };
    api.trace.setGlobalTracerProvider({ getTracer: () => tracer });
  }

  uninstall(): void {
    api.trace.disable();
    api.context.disable();
  }
}
