// Imports rxon through its package exports (self-reference), as an installed user would.
import { decode, decodeJson, encode, parseJson, ErrorCode, Endpoint, modelNames } from "rxon";

const task = decodeJson("TaskPayload", '{"job_id":"j","task_id":"t","type":"echo","params":{"n":18446744073709551615}}');
const out = {
  priority: task.priority,
  n: String(task.params.n),
  encoded: encode({ a: null, b: 1 }),
  parsed: String(parseJson("9007199254740993")),
  code: ErrorCode.CONTRACT_VIOLATION_ERROR,
  endpoint: Endpoint.REGISTER,
  models: modelNames.length,
};
let refused = null;
try {
  decode("Heartbeat", { worker_id: "w" });
} catch (e) {
  refused = e.errors.map((i) => i.path);
}
out.refused = refused;
for (const entry of ["rxon/worker", "rxon/listener", "rxon/hub", "rxon/hub/redis", "rxon/testing", "rxon/metrics", "rxon/tracing"]) await import(entry);
const { default: schema } = await import("rxon/schemas/task-payload.schema.json", { with: { type: "json" } });
out.schemaTitle = schema.title;
const { default: vectors } = await import("rxon/conformance/canonical.json", { with: { type: "json" } });
const { default: openapi } = await import("rxon/schemas/generated/openapi.json", { with: { type: "json" } });
out.shipped = { vectors: vectors.cases.length > 0, openapi: openapi.openapi };
console.log(JSON.stringify(out));
