/**
 * The worker runtime against an imitation of the Python orchestrator's behaviour (rate limiter,
 * idle-only dispatch with quarantine, in-memory restarts, cancel by job id through heartbeats,
 * cancelled results final): each test is one field failure that must not happen again.
 */
import { afterEach, describe, expect, it } from "vitest";
import { AuthError, NetworkError } from "../../src/errors.js";
import { HttpTransport } from "../../src/transport/index.js";
import { hang, instant, nap, fake, stopAll, worker } from "./helpers.js";

afterEach(stopAll);

describe("rate limit whose window every request restarts (item 6)", () => {
  it("a rate-limited worker gets through: waits after consecutive 429s keep growing past the window", async () => {
    const orc = await fake({ rateLimit: { limit: 4, windowMs: 600 }, idleOnlyDispatch: false, pollHoldMs: 50 });
    const w = worker(orc.url, {
      workerId: "w-rate",
      skills: [nap],
      // Small numbers so the test is quick: no Retry-After counts as 100 ms, doubling up to 5 s.
      rateLimit: { minDelayMs: 100, maxDelayMs: 5_000 },
      transportOptions: { rateLimitDefaultMs: 100 },
    });
    await w.start();
    const jobs = [1, 2, 3, 4].map(() => orc.submit("nap", { ms: 1 }));
    await orc.waitFor(() => jobs.every((j) => j.status === "finished"), 30_000);
    expect(orc.rateLimited).toBeGreaterThan(0);
    // The worker counts a result once its answer is in, a moment after the orchestrator applied it.
    await orc.waitFor(() => w.stats.succeeded === 4);
    expect(w.stats.lost).toBe(0);
  });
});

describe("idle-only dispatch with quarantine (item 7)", () => {
  it("jobs submitted right after a task ends are dispatched, not quarantined", async () => {
    // Three attempts 150 ms apart: the orchestrator looks for an idle worker for 300 ms.
    const orc = await fake({ dispatchAttempts: 3, dispatchRetryDelayMs: 150 });
    // A periodic heartbeat always falls inside a task and reports `full`; only a heartbeat sent
    // when the slot frees tells the orchestrator in time that the worker is idle again.
    const w = worker(orc.url, { workerId: "w-idle", skills: [nap], heartbeatIntervalMs: 1_000, heartbeatCooldownMs: 100 });
    await w.start();
    for (let round = 0; round < 3; round++) {
      const job = orc.submit("nap", { ms: 1_200 });
      await orc.waitFor(() => job.status !== "queued" && job.status !== "running" && job.status !== "waiting", 10_000);
      expect(job.status, `round ${round}`).toBe("finished");
    }
    const statuses = orc.heartbeats.filter((h) => h.workerId === "w-idle").map((h) => h.body.status);
    expect(statuses).toContain("full");
    expect(statuses).toContain("idle");
    expect([...orc.jobs.values()].filter((j) => j.status === "quarantined")).toHaveLength(0);
  });
});

describe("shutdown and cancel results (items 8 and 10)", () => {
  it("a task interrupted by shutdown is reported as a TRANSIENT_ERROR failure, so the job runs again elsewhere", async () => {
    const orc = await fake();
    const first = worker(orc.url, { workerId: "w-leaving", skills: [hang()] });
    await first.start();
    const job = orc.submit("hang");
    // The orchestrator knows it busy (so the job is not handed straight back to it).
    await orc.waitFor(() => job.status === "running" && orc.statusOf("w-leaving") === "full");
    // A second worker with the same skill name, idle, ready to take the job again.
    const second = worker(orc.url, { workerId: "w-staying", skills: [instant("hang")] });
    await second.start();
    await first.stop({ graceMs: 0 });
    expect(orc.results[0]).toMatchObject({ job_id: job.id, status: "failure", error: { code: "TRANSIENT_ERROR" } });
    expect(job.status).not.toBe("cancelled");
    await orc.waitFor(() => job.status === "finished");
    expect(job.results.map((r) => r.worker_id)).toEqual(["w-leaving", "w-staying"]);
  });

  it("a cancel through the heartbeat answer (by job id) reaches the handler and ends the job cancelled", async () => {
    const orc = await fake();
    const calls = { n: 0 };
    const w = worker(orc.url, { workerId: "w-cancel", skills: [hang(calls)], heartbeatIntervalMs: 100 });
    await w.start();
    const job = orc.submit("hang");
    await orc.waitFor(() => job.status === "running" && calls.n === 1);
    await orc.waitFor(() => orc.heartbeats.some((h) => (h.body.current_tasks as string[]).includes(job.id)));
    const listed = orc.heartbeats.find((h) => (h.body.current_tasks as string[]).includes(job.id))!.body.current_tasks;
    expect(listed).toEqual([job.taskId, job.id]);
    orc.cancel(job.id);
    await orc.waitFor(() => job.status === "cancelled");
    expect(job.results).toHaveLength(1);
    expect(job.results[0]).toMatchObject({ status: "cancelled", task_id: job.taskId });
    await orc.waitFor(() => w.stats.cancelled === 1);
  });

  it("with reportJobIdsInHeartbeat: false only task ids are listed, and the job-id-only orchestrator cannot cancel", async () => {
    const orc = await fake();
    const w = worker(orc.url, { workerId: "w-nojob", skills: [hang()], heartbeatIntervalMs: 50, reportJobIdsInHeartbeat: false });
    await w.start();
    const job = orc.submit("hang");
    await orc.waitFor(() => job.status === "running");
    orc.cancel(job.id);
    const seen = orc.heartbeats.length;
    await orc.waitFor(() => orc.heartbeats.length >= seen + 5);
    expect(job.status).toBe("running");
    const mine = orc.heartbeats.filter((h) => h.workerId === "w-nojob" && (h.body.current_tasks as string[]).length > 0);
    expect(mine.every((h) => (h.body.current_tasks as string[]).join() === job.taskId)).toBe(true);
  });
});

describe("an orchestrator that forgot the worker (item 9)", () => {
  it("after an outage and an in-memory restart that answers heartbeats 'ok', the worker registers again", async () => {
    const orc = await fake();
    const w = worker(orc.url, { workerId: "w-outage", skills: [nap], heartbeatIntervalMs: 100 });
    await w.start();
    expect(orc.registrations).toHaveLength(1);
    await orc.outage();
    orc.forget();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await orc.start();
    await orc.waitFor(() => orc.registrations.length >= 2);
    // Known again, and idle: work is dispatched to it.
    const job = orc.submit("nap", { ms: 1 });
    await orc.waitFor(() => job.status === "finished");
  });

  it("a heartbeat answered 404 'Worker not found' makes it register again", async () => {
    const orc = await fake({ forgottenHeartbeat: "not_found" });
    const w = worker(orc.url, { workerId: "w-404", skills: [nap], heartbeatIntervalMs: 100 });
    await w.start();
    orc.forget();
    await orc.waitFor(() => orc.registrations.length >= 2 && w.stats.registrations >= 2);
  });
});

describe("deadlines far away (item 12)", () => {
  it("a task whose deadline is 30 days away runs to success", async () => {
    const orc = await fake();
    const w = worker(orc.url, { workerId: "w-far", skills: [nap] });
    await w.start();
    const job = orc.submit("nap", { ms: 100 }, { deadline: Date.now() / 1000 + 30 * 86_400 });
    await orc.waitFor(() => job.status === "finished" || job.status === "failed");
    expect(job.results[0]).toMatchObject({ status: "success", data: { slept: 100 } });
  });
});

describe("credentials the orchestrator refuses (item 13)", () => {
  it("start() rejects with an AuthError after authFailureLimit refused registrations", async () => {
    const orc = await fake({ tokens: ["the-right-token"] });
    const w = worker(orc.url, { workerId: "w-badtoken", skills: [nap], authFailureLimit: 2 });
    await expect(w.start()).rejects.toBeInstanceOf(AuthError);
    // Two registrations and the token refresh tried in between; nothing after.
    const seen = orc.requests;
    expect(seen).toBeGreaterThanOrEqual(2);
    expect(seen).toBeLessThanOrEqual(4);
    await w.stop({ graceMs: 0 });
    expect(w.state).toBe("stopped");
    expect(orc.requests).toBe(seen);
  });
});

describe("a poll answer that trickles in (item 14)", () => {
  it("is cut off by the body timeout and intake recovers", async () => {
    const orc = await fake({ trickledPolls: 2 });
    const w = worker(orc.url, { workerId: "w-slow", skills: [nap], transportOptions: { bodyTimeoutMs: 500 } });
    const errors: unknown[] = [];
    w.on("error", ({ error, where }) => where === "poll" && errors.push(error));
    await w.start();
    const job = orc.submit("nap", { ms: 1 });
    await orc.waitFor(() => job.status === "finished", 15_000);
    expect(orc.trickled).toBe(2);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors[0]).toMatchObject({ name: "NetworkError", details: { reason: "body_timeout" } });
  });

  it("the transport rejects the trickling poll with a retryable NetworkError once bodyTimeoutMs passed", async () => {
    const orc = await fake({ trickledPolls: 1 });
    const transport = new HttpTransport(orc.url, "w-direct", "tok", { bodyTimeoutMs: 400, serverPollHoldSeconds: 1 });
    try {
      const error = await transport.pollTask({ timeoutSeconds: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NetworkError);
      expect(error).toMatchObject({ retryable: true, details: { reason: "body_timeout", timeoutMs: 400 } });
      // The next poll is answered normally (an empty hold here).
      expect(await transport.pollTask({ timeoutSeconds: 1 })).toBeNull();
    } finally {
      await transport.close();
    }
  });
});

describe("a result asking for the next task (rxon extension)", () => {
  it("is answered as the Python orchestrator answers every result, and the worker polls for each task", async () => {
    const orc = await fake({ idleOnlyDispatch: false, pollHoldMs: 50 });
    const w = worker(orc.url, { workerId: "w-next", skills: [nap], concurrency: 1 });
    await w.start();
    const jobs = [1, 2, 3, 4, 5].map(() => orc.submit("nap", { ms: 1 }));
    await orc.waitFor(() => jobs.every((j) => j.status === "finished"), 10_000);
    await orc.waitFor(() => w.stats.succeeded === 5);
    // Each result asked (the slot was the one the worker polls for), got the usual answer, and
    // each task came by a poll of its own.
    expect(orc.resultQueries).toHaveLength(5);
    for (const q of orc.resultQueries) expect(q).toMatch(/[?&]next=1(&|$)/);
    expect(orc.polls).toBeGreaterThanOrEqual(5);
    expect(w.stats.lost).toBe(0);
  });
});
