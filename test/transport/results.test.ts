import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NetworkError, ProtocolError, RateLimitError } from "../../src/errors.js";
import { waitUntil } from "../../src/testing/index.js";
import { createTransport, receivedForm, type HttpTransport } from "../../src/transport/index.js";
import type { TransportOptions } from "../../src/transport/options.js";
import { result } from "./helpers.js";
import { TestServer } from "./server.js";

let server: TestServer;
const open: HttpTransport[] = [];

function transport(options: TransportOptions = {}): HttpTransport {
  const t = createTransport(server.url, "w1", "tok", { resultRetryDelayMs: 20, ...options }) as HttpTransport;
  open.push(t);
  return t;
}

beforeEach(async () => {
  server = await new TestServer().start();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  await server.stop();
});

describe("sendResult", () => {
  it("asks for the next task with the poll's skill lists and returns the one that came", async () => {
    // A member the model does not know: kept as received when asked (keepReceived), dropped otherwise.
    const next = { job_id: "j2", task_id: "t2", type: "echo", params: { n: 2 }, extra_member: 1 };
    server.next("result", { status: 200, body: { status: "accepted", next_task: next } });
    const t = transport();
    const delivery = await t.sendResult(result("1"), { next: { timeoutSeconds: 30, availableSkills: ["echo", "sum"], keepReceived: true } });
    const url = server.routeRequests("result")[0]!.url;
    expect(url).toMatch(/\?timeout=30(\.0)?&available_skills=echo,sum&next=1$/);
    expect(delivery.delivered).toBe(true);
    const task = delivery.delivered ? delivery.response?.next_task : undefined;
    expect(task).toMatchObject({ job_id: "j2", task_id: "t2", type: "echo", params: { n: 2 } });
    expect(receivedForm(task!)).toEqual(next);
  });

  it("never asks unless told to; a malformed next task is dropped and the result still delivered", async () => {
    const t = transport();
    await t.sendResult(result("1"));
    expect(server.routeRequests("result")[0]!.url).toBe("/_worker/tasks/result");
    server.next("result", { status: 200, body: { status: "accepted", next_task: { job_id: 5 } } });
    const delivery = await t.sendResult(result("2"), { next: { availableSkills: ["echo"] } });
    expect(delivery).toEqual({ delivered: true, response: null });
  });

  it("reports an accepted result as delivered", async () => {
    const delivery = await transport().sendResult(result("1"));
    expect(delivery).toEqual({ delivered: true, response: { status: "accepted", transition: "success_transition" } });
  });

  it("reports an ignored result as not delivered, with the reason", async () => {
    server.next("result", { status: 200, body: { status: "ignored", reason: "stale_task", message: "Result ignored: task_id t is no longer active" } });
    const delivery = await transport().sendResult(result("1"));
    expect(delivery).toMatchObject({ delivered: false, reason: "stale_task", message: "Result ignored: task_id t is no longer active" });
  });

  it("retries a result whose connection broke, then delivers it", async () => {
    server.next("result", { status: 0, destroy: true }).next("result", { status: 0, destroy: true });
    const delivery = await transport().sendResult(result("1"));
    expect(delivery.delivered).toBe(true);
    expect(server.routeRequests("result")).toHaveLength(3);
  });

  it("gives up after resultRetries attempts with the last NetworkError", async () => {
    for (let i = 0; i < 3; i++) server.next("result", { status: 0, destroy: true });
    await expect(transport({ resultRetries: 3 }).sendResult(result("1"))).rejects.toBeInstanceOf(NetworkError);
    expect(server.routeRequests("result")).toHaveLength(3);
  });

  it("never resends an answered result: 500 and 429 propagate at once", async () => {
    const t = transport();
    server.next("result", { status: 500, body: { error: "boom" } });
    await expect(t.sendResult(result("1"))).rejects.toBeInstanceOf(ProtocolError);
    server.next("result", { status: 429 });
    await expect(t.sendResult(result("2"))).rejects.toBeInstanceOf(RateLimitError);
    expect(server.routeRequests("result")).toHaveLength(2);
  });

  it("sends every result exactly once when nothing fails", async () => {
    const t = transport();
    await Promise.all(Array.from({ length: 20 }, (_, i) => t.sendResult(result(String(i)))));
    expect([...server.resultArrivals.values()].every((n) => n === 1)).toBe(true);
    expect(server.accepted).toBe(20);
  });

  it("an abort during the retry wait stops the retries", async () => {
    await server.stop();
    const controller = new AbortController();
    const t = transport({ resultRetries: 100, resultRetryDelayMs: 10_000 });
    const sending = t.sendResult(result("1"), { signal: controller.signal }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    controller.abort(new Error("shutting down"));
    expect(await sending).toMatchObject({ message: "shutting down" });
  });

  it("loses no result when the server dies while results are in flight", async () => {
    await server.stop();
    // Each result is recorded before it is answered, so a crash can eat the answer of a processed result.
    server = await new TestServer({ resultAnswerDelayMs: 100 }).start();
    const workers = 4;
    const perWorker = 15;
    const transports = Array.from({ length: workers }, () => transport({ resultRetries: 40, resultRetryDelayMs: 50, resultRetryMaxDelayMs: 400 }));
    const sending = transports.map(async (t, w) => {
      const deliveries = [];
      for (let i = 0; i < perWorker; i++) deliveries.push(await t.sendResult(result(`${w}-${i}`)));
      return deliveries;
    });
    await waitUntil(() => server.accepted >= 20, { timeoutMs: 10_000 });
    await server.stop();
    await new Promise((r) => setTimeout(r, 300));
    await server.start();
    const deliveries = (await Promise.all(sending)).flat();
    expect(deliveries).toHaveLength(workers * perWorker);
    expect(deliveries.every((d) => d.delivered)).toBe(true);
    // Every result was accepted exactly once; the copies re-sent after the crash were deduplicated.
    expect(server.accepted).toBe(workers * perWorker);
    expect(server.results.size).toBe(workers * perWorker);
    const arrivals = [...server.resultArrivals.values()].reduce((a, b) => a + b, 0);
    expect(arrivals).toBeGreaterThan(workers * perWorker);
  });
});
