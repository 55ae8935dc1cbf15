/**
 * The processes of bench/hub-e2e.bench.ts other than the hubs, run as children
 * (`node --import tsx`) so the hub processes get cores of their own. Talks to the parent over IPC.
 *
 * - `workers <urls.json> <count>`: `count` real rxon `Worker`s (HMAC-signed messages), worker i
 *   connected to hub `urls[i % urls.length]`, serving `echo`; sends `{ready}` once all have
 *   registered, stops them on `{stop}` and sends `{stopped}`.
 * - `bullmq <redis-port> <queue> <concurrency>`: one BullMQ Worker with that concurrency on the
 *   queue, serving the same `echo`; same messages.
 * - `floor-server`: a bare node:http server answering every request with a small JSON body; sends
 *   `{ready, url}`; exits on `{stop}`.
 * - `relay-server`: the least a hub of this protocol's shape does, on bare node:http: `POST
 *   /_client/tasks[?wait]` queues a task (answering at once, or when it ends), `GET
 *   /_worker/poll` takes one (held until there is one), `POST /_worker/result` ends it and, with
 *   `?next=1`, answers with the next queued task as the hub does, `GET /_client/tasks/{id}?wait`
 *   answers when it ended. No signing, checks or store; sends `{ready, url}`.
 * - `relay-workers <url> <count>`: `count` bare undici loops of echo and result against a relay
 *   server, each result asking for the next task and polling only when none came with its
 *   answer (as a `Worker` does with the hub); sends `{ready}`, stops on `{stop}`.
 *
 * Every `echo` answers `{n, d}`: `d` is the submit-to-dispatch time in ms, the handler's start
 * minus the client's submit time `t` (both `performance.timeOrigin + performance.now()`, one
 * machine's clock, so sub-millisecond skew at most).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import Type from "typebox";
import { defineSkill } from "../src/contracts/index.js";
import { Worker } from "../src/worker/index.js";

/** Absolute wall-clock time in ms with sub-millisecond resolution, comparable across processes. */
export function nowAbs(): number {
  return performance.timeOrigin + performance.now();
}

/** Credentials of bench worker `i`: its id and its secret (token and signing key). */
export function workerCredentials(i: number): { id: string; secret: string } {
  return { id: `w${i}`, secret: `secret-${i}` };
}

/** What every echo handler answers: the number back, and the submit-to-dispatch time. */
function echo(params: { n: number; t: number }): { n: number; d: number } {
  return { n: params.n, d: nowAbs() - params.t };
}

type ParentMessage = { stop: true };

function send(message: unknown): void {
  process.send?.(message);
}

function onStop(fn: () => Promise<void>): void {
  process.on("message", (m: ParentMessage) => {
    if ("stop" in m) void fn().finally(() => process.exit(0));
  });
}

async function rxonWorkers(urls: string[], count: number): Promise<void> {
  const skill = defineSkill({
    name: "echo",
    version: "1.0.0",
    input: Type.Object({ n: Type.Number(), t: Type.Number() }),
    output: Type.Object({ n: Type.Number(), d: Type.Number() }),
    handler: (p) => echo(p),
  });
  const workers = Array.from({ length: count }, (_, i) => {
    const { id, secret } = workerCredentials(i);
    return new Worker({ url: urls[i % urls.length]!, workerId: id, token: secret, secret, skills: [skill], pollTimeoutSeconds: 10 });
  });
  onStop(async () => {
    await Promise.allSettled(workers.map((w) => w.stop({ graceMs: 1000 })));
    send({ stopped: true });
  });
  await Promise.all(workers.map((w) => w.start()));
  send({ ready: true });
}

async function bullmqWorker(port: number, queue: string, concurrency: number): Promise<void> {
  const { Worker: BullWorker } = await import("bullmq");
  const worker = new BullWorker(queue, async (job) => echo(job.data as { n: number; t: number }), {
    connection: { host: "127.0.0.1", port, maxRetriesPerRequest: null },
    concurrency,
  });
  onStop(async () => {
    await worker.close();
    send({ stopped: true });
  });
  await worker.waitUntilReady();
  send({ ready: true });
}

/** Listens on a free loopback port, reports the URL to the parent and closes on `{stop}`. */
async function serve(server: import("node:http").Server): Promise<void> {
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onStop(async () => {
    server.closeAllConnections();
    server.close();
  });
  send({ ready: true, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

async function floorServer(): Promise<void> {
  let next = 0;
  const server = createServer((req, res) => {
    // Read the body as the hub does, then answer a body of about the hub's size.
    req.resume();
    req.on("end", () => {
      const body = req.method === "POST" ? `{"job_id":"j${next++}","task_id":"t","status":"queued"}` : `{"job_id":"j","status":"finished","outcome":{"status":"success","data":{"n":1}}}`;
      res.writeHead(req.method === "POST" ? 202 : 200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await serve(server);
}

/** See the file comment: a queue, held polls and held waits on bare node:http, nothing else. */
async function relayServer(): Promise<void> {
  type Held = (body: string) => void;
  const queue: { id: string; body: string }[] = [];
  const polls: Held[] = [];
  const ended = new Map<string, string>();
  const waits = new Map<string, Held>();
  let next = 0;
  const json = (res: import("node:http").ServerResponse, status: number, body: string): void => {
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = req.url ?? "";
      if (req.method === "POST" && url.startsWith("/_client/tasks")) {
        const id = `j${next++}`;
        const task = `{"job_id":"${id}","params":${Buffer.concat(chunks).toString()}}`;
        const poll = polls.shift();
        if (poll !== undefined) poll(task);
        else queue.push({ id, body: task });
        if (url.includes("wait=")) waits.set(id, (outcome) => json(res, 200, `{"job_id":"${id}","status":"finished","outcome":${outcome}}`));
        else json(res, 202, `{"job_id":"${id}","status":"waiting_for_worker"}`);
      } else if (req.method === "GET" && url.startsWith("/_client/tasks/")) {
        const id = url.slice("/_client/tasks/".length).split("?")[0]!;
        const outcome = ended.get(id);
        if (outcome !== undefined) {
          ended.delete(id);
          json(res, 200, `{"job_id":"${id}","status":"finished","outcome":${outcome}}`);
        } else waits.set(id, (o) => json(res, 200, `{"job_id":"${id}","status":"finished","outcome":${o}}`));
      } else if (req.method === "GET" && url.startsWith("/_worker/poll")) {
        const task = queue.shift();
        if (task !== undefined) json(res, 200, task.body);
        else polls.push((body) => json(res, 200, body));
      } else if (req.method === "POST" && url.startsWith("/_worker/result")) {
        const result = JSON.parse(Buffer.concat(chunks).toString()) as { job_id: string; data: unknown };
        const outcome = JSON.stringify({ status: "success", data: result.data });
        const wait = waits.get(result.job_id);
        waits.delete(result.job_id);
        if (wait !== undefined) wait(outcome);
        else ended.set(result.job_id, outcome);
        // As the hub does for a result that asks (`next=1`): the worker's next task rides on the answer.
        const next = url.includes("next=1") ? queue.shift() : undefined;
        json(res, 200, next !== undefined ? `{"status":"accepted","next_task":${next.body}}` : `{"status":"accepted"}`);
      } else json(res, 404, "{}");
    });
  });
  await serve(server);
}

/** See the file comment: bare poll/echo/result loops, one connection each. */
async function relayWorkers(url: string, count: number): Promise<void> {
  const { Agent, request } = await import("undici");
  const agent = new Agent({ connections: count * 2, pipelining: 1 });
  let running = true;
  type RelayTask = { job_id: string; params: { n: number; t: number } };
  const loops = Array.from({ length: count }, async () => {
    let task: RelayTask | undefined;
    while (running) {
      if (task === undefined) {
        const polled = await request(`${url}/_worker/poll`, { dispatcher: agent, method: "GET" }).catch(() => undefined);
        if (polled === undefined) continue;
        task = (await polled.body.json()) as RelayTask;
      }
      const body = JSON.stringify({ job_id: task.job_id, status: "success", data: echo(task.params) });
      const posted = await request(`${url}/_worker/result?next=1`, { dispatcher: agent, method: "POST", headers: { "content-type": "application/json" }, body }).catch(() => undefined);
      task = posted === undefined ? undefined : ((await posted.body.json()) as { next_task?: RelayTask }).next_task;
    }
  });
  onStop(async () => {
    running = false;
    await agent.destroy();
    await Promise.allSettled(loops);
    send({ stopped: true });
  });
  send({ ready: true });
}

// Only as the entry point of a child process (the bench imports helpers from here).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, arg1, arg2, arg3] = process.argv.slice(2);
  if (mode === "workers") await rxonWorkers(JSON.parse(arg1!) as string[], Number(arg2));
  else if (mode === "bullmq") await bullmqWorker(Number(arg1), arg2!, Number(arg3));
  else if (mode === "floor-server") await floorServer();
  else if (mode === "relay-server") await relayServer();
  else if (mode === "relay-workers") await relayWorkers(arg1!, Number(arg2));
  else throw new Error(`unknown mode ${mode}`);
}
