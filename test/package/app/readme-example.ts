// The README's examples as one program, compiled and run inside a fresh app that installed rxon
// from its tarball (pnpm, strict): only packages the app declares are reachable from it.
import Type from "typebox";
import { decodeJson, encode, ValidationError, type TaskPayload } from "rxon";
import { Hub } from "rxon/hub";
import { RxonListener } from "rxon/listener";
import { Worker, defineSkill } from "rxon/worker";

// The app has no @types/node; only what it prints needs declaring.
declare const console: { log(text: string): void };

const task: TaskPayload = decodeJson("TaskPayload", '{"job_id":"j","task_id":"t","type":"resize"}');
let refused = "";
try {
  decodeJson("WorkerRegistration", "{}");
} catch (e) {
  if (e instanceof ValidationError) refused = e.errors[0]?.path ?? "";
}

const resize = defineSkill({
  name: "resize",
  version: "1.2.0",
  input: Type.Object({ url: Type.String(), width: Type.Integer({ minimum: 1 }) }),
  output: Type.Object({ url: Type.String() }),
  handler: async ({ url, width }, ctx) => {
    // @ts-expect-error width is a number: this line fails to compile if typebox's types did not resolve
    const notAString: string = width;
    void notAString;
    ctx.progress(0.5, "resizing");
    return { url: `${url}?w=${width}&by=${ctx.workerId}` };
  },
});

const secret = "readme-example-secret-0123";
const hub = new Hub({ auth: { tokens: { "gpu-box-1": secret } } });
const server = await hub.listen({ port: 0, host: "127.0.0.1" });
const worker = new Worker({ url: server.url, workerId: "gpu-box-1", token: secret, skills: [resize], heartbeatIntervalMs: 1_000 });
const started = worker.start();
const submitted = await hub.submit({ type: "resize", params: { url: "s3://media/cat.png", width: 1024 }, timeoutMs: 30_000 });
const outcome = await submitted.result();
await worker.stop({ graceMs: 1_000 });
await started.catch(() => undefined);
await hub.close();

console.log(JSON.stringify({ priority: task.priority, refused, encoded: encode({ a: null, b: 1 }), listener: typeof RxonListener, status: outcome.status, data: outcome.data }));
