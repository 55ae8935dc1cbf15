import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decode, decodeJson, encode, type ModelName } from "../../src/wire/codec.js";
import { parseJson } from "../../src/wire/json.js";

interface VectorCase {
  name: string;
  input_text?: string;
}
const vectors = JSON.parse(readFileSync(new URL("../conformance/canonical-public.json", import.meta.url), "utf8")) as { cases: VectorCase[] };
const vector = (name: string): string => {
  const c = vectors.cases.find((v) => v.name === name);
  if (!c?.input_text) throw new Error(`vector ${name} missing`);
  return c.input_text;
};

/** Real messages: the conformance vectors (computed with the Python reference) and PROTOCOL.md's examples. */
const messages: [string, ModelName, string][] = [
  ["vector task_payload_realistic", "TaskPayload", vector("task_payload_realistic")],
  ["vector task_result_success_realistic", "TaskResult", vector("task_result_success_realistic")],
  ["vector task_result_failure_with_error", "TaskResult", vector("task_result_failure_with_error")],
  ["vector heartbeat_with_device_usage", "Heartbeat", vector("heartbeat_with_device_usage")],
  ["vector worker_registration_full", "WorkerRegistration", vector("worker_registration_full")],
  ["vector worker_event_progress_ignore_bubbling_chain", "WorkerEventPayload", vector("worker_event_progress_ignore_bubbling_chain")],
  [
    // 6.5 signs this with a placeholder signature ("ignored"), which is not a wire value: on the
    // wire a signature is lowercase hex, so the message carries the vector's real HMAC.
    "6.5 heartbeat",
    "Heartbeat",
    '{"worker_id":"worker-01","status":"idle","usage":{"cpu_load_percent":12.5,"ram_used_gb":3.0,"devices_usage":[{"unit_id":"gpu-0","load_percent":45.0,"metrics":{"temp":65.0}}]},"current_tasks":[],"timestamp":1700000000,"security":{"signature":"da14c50ad29dd2740b6364611824863d1dc45077526c9246f4fe9172d72ec0e4","signer_id":"worker-01"}}',
  ],
  [
    "6.5 event",
    "WorkerEventPayload",
    '{"event_id":"e-1","worker_id":"w1","origin_worker_id":"w1","event_type":"progress","payload":{"progress":0.5,"message":"half"},"bubbling_chain":["proxy-1"],"target_job_id":"job-1","priority":0.0,"timestamp":1700000001}',
  ],
  [
    "appendix task from the orchestrator (float timestamp/deadline, skill_version, skill_type)",
    "TaskPayload",
    '{"deadline":1713456789.25,"job_id":"job-1","metadata":{"tenant":"a"},"params":{"text":"hi"},"priority":0,"skill_type":"nlp","skill_version":"1.0.0","task_id":"task-3f0c2b1e-0000-4000-8000-000000000000","timestamp":1713456700.123456,"tracing_context":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},"type":"summarize"}',
  ],
  [
    "appendix result from the worker SDK (costs)",
    "TaskResult",
    '{"costs":{"execution_time_seconds":0.0123},"data":{"summary":"hello"},"job_id":"job-1","origin_worker_id":"worker-01","security":{"signature":"' +
      "a".repeat(64) +
      '","signer_id":"worker-01"},"status":"success","task_id":"task-3f0c2b1e-0000-4000-8000-000000000000","timestamp":1713456710,"worker_id":"worker-01"}',
  ],
  ["appendix accepted result answer", "ResultResponse", '{"status":"accepted","transition":"success_transition"}'],
  [
    "appendix ignored result answer",
    "ResultResponse",
    '{"message":"Result ignored: task_id t is no longer active for job j.","reason":"stale_task","status":"ignored"}',
  ],
  ["appendix heartbeat answer", "HeartbeatResponse", '{"cancel_task_ids":["job-7"],"require_full_sync":true,"status":"ok"}'],
  ["appendix cancel command frame (Python encoder spacing)", "WorkerCommand", '{"command": "cancel_task", "task_id": "task-9", "job_id": "job-9"}'],
  ["appendix 429 body through the 1.0b13 listener", "ErrorResponse", '{"error":"{\\"error\\": \\"Too Many Requests\\"}"}'],
  ["register answer with a version warning", "RegisterResponse", '{"status":"registered","version":"1.0b14","warning":"Protocol version mismatch! Orchestrator: 1.0b14, Worker: 1.0b13."}'],
  ["token response", "TokenResponse", '{"access_token":"' + "x".repeat(43) + '","expires_in":3600,"refresh_token":"' + "y".repeat(43) + '","worker_id":"w1"}'],
  ["event refused answer", "EventResponse", '{"status":"error","code":"CONTRACT_VIOLATION_ERROR","message":"bad payload"}'],
];

describe("realistic messages decode", () => {
  it.each(messages)("%s", (_name, model, text) => {
    const decoded = decodeJson(model, text) as unknown as Record<string, unknown>;
    // Everything that was sent is still there, with the same values.
    const sent = JSON.parse(text) as Record<string, unknown>;
    for (const [key, value] of Object.entries(sent)) expect(decoded[key]).toEqual(value);
  });
});

describe("round trips", () => {
  it.each(messages)("%s: encode(decode(x)) decodes to the same model", (_name, model, text) => {
    const once = decodeJson(model, text);
    const wire = encode(once);
    expect(decode(model, wire)).toEqual(once);
    expect(decodeJson(model, JSON.stringify(wire))).toEqual(once);
  });

  it("keeps big integers exact through decode and encode", () => {
    const task = decodeJson("TaskPayload", '{"job_id":"j","task_id":"t","type":"x","params":{"id":18446744073709551615}}');
    expect(task.params?.id).toBe(18446744073709551615n);
    expect(encode(task).params?.id).toBe(18446744073709551615n);
  });

  it("leaves the raw parsed object untouched when decoding a copy, so signatures can be checked over it", () => {
    const raw = parseJson(vector("task_result_failure_with_error"));
    const before = JSON.stringify(raw);
    const result = decode("TaskResult", raw);
    expect(JSON.stringify(raw)).toBe(before);
    expect(result.error).toEqual({ code: "INVALID_INPUT_ERROR", details: { field: "width", got: -3 }, message: 'Field "width" must be > 0' });
  });
});

describe("encode", () => {
  it("drops null and undefined members at every depth and keeps array elements", () => {
    expect(encode({ a: null, b: undefined, c: { d: null, e: [null, undefined, { f: null }] }, g: 0, h: "" })).toEqual({
      c: { e: [null, null, {}] },
      g: 0,
      h: "",
    });
  });
  it("does not let a __proto__ member change the prototype of the copy", () => {
    const value = JSON.parse('{"__proto__":{"polluted":true},"ok":1}') as Record<string, unknown>;
    const out = encode(value);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(["__proto__", "ok"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
  it("refuses cyclic values instead of overflowing", () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => encode(a)).toThrow(/deeper than 100/);
  });
});
