/**
 * The hub of the e2e tests as a child process: commands as JSON lines on stdin, events as JSON
 * lines on stdout. Workers' credentials come from RXON_TOKENS (JSON map).
 */
import { createInterface } from "node:readline";
import { Hub, type TaskHandle } from "../../src/hub/index.js";
import { consoleLogger } from "../../src/logger.js";

const say = (ev: Record<string, unknown>): void => void process.stdout.write(JSON.stringify({ ...ev, at: Date.now() }) + "\n");
const tokens = JSON.parse(process.env.RXON_TOKENS ?? "{}") as Record<string, string>;
const hub = new Hub({
  auth: { tokens },
  heartbeatIntervalMs: 300,
  // Generous next to the 300 ms beat: a loaded CI machine must not expire live workers.
  workerTtlMs: 2500,
  sweepIntervalMs: 100,
  logger: consoleLogger("warn", process.stderr),
});
hub.on("worker:registered", (e) => say({ ev: "registered", ...e }));
hub.on("worker:expired", (e) => say({ ev: "expired", ...e }));
hub.on("task:dispatched", (e) => say({ ev: "dispatched", ...e }));
hub.on("message:refused", (e) => say({ ev: "refused", ...e }));
hub.on("result:ignored", (e) => say({ ev: "ignored", ...e }));
const server = await hub.listen({ port: 0 });
const handles = new Map<string, TaskHandle>();

createInterface({ input: process.stdin }).on("line", async (line) => {
  const cmd = JSON.parse(line) as { op: string; ref: string; [k: string]: unknown };
  if (cmd.op === "submit") {
    const h = await hub.submit(cmd.task as Parameters<Hub["submit"]>[0]);
    handles.set(cmd.ref, h);
    say({ ev: "submitted", ref: cmd.ref, jobId: h.jobId });
    void h.result().then((outcome) => say({ ev: "outcome", ref: cmd.ref, outcome }));
  } else if (cmd.op === "cancel") {
    say({ ev: "cancel_sent", ref: cmd.ref });
    void handles.get(cmd.ref)?.cancel();
  } else if (cmd.op === "exit") {
    void hub.close().then(() => process.exit(0));
  }
});
process.on("SIGTERM", () => void hub.close().then(() => process.exit(0)));
say({ ev: "listening", url: server.url });
