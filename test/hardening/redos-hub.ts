/**
 * A hub as a child process for the ReDoS test: anonymous workers, one `echo` task submitted when
 * the first worker registers; prints its URL and each outcome as JSON lines.
 */
import { Hub } from "../../src/hub/index.js";

const hub = new Hub({ maxPollHoldMs: 2000 });
let submitted = false;
hub.on("worker:registered", () => {
  if (submitted) return;
  submitted = true;
  void hub
    .submit({ type: "echo", params: {} })
    .then((h) => h.result())
    .then((outcome) => process.stdout.write(JSON.stringify({ ev: "outcome", outcome }) + "\n"));
});
const server = await hub.listen({ port: 0 });
process.stdout.write(JSON.stringify({ ev: "listening", url: server.url }) + "\n");
process.stdin.resume();
process.stdin.on("end", () => void hub.close().then(() => process.exit(0)));
