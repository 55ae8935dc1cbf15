/** The store conformance suite against MemoryStore, with an injected clock. */
import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../src/hub/memory-store.js";
import { jobCursor } from "../../src/hub/store.js";
import { newJob, storeConformance } from "./store-conformance.js";

storeConformance("MemoryStore", async () => {
  let now = 1_700_000_000_000;
  const store = new MemoryStore({ now: () => now });
  return {
    store,
    async advance(ms: number) {
      now += ms;
    },
    async close() {
      store.close();
    },
  };
});

describe("MemoryStore listing", () => {
  it("drops the deadline entries of jobs forgotten long before their deadlines, and still ends live jobs at theirs", () => {
    let now = 1_700_000_000_000;
    const store = new MemoryStore({ now: () => now });
    store.configure({ retentionMs: 60_000, maxRetained: 1_000_000, cancelGraceMs: 1000 });
    const base = store.dueEntries;
    const live: string[] = [];
    for (let i = 0; i < 5000; i++) {
      // Deadlines an hour or more ahead; every 500th job stays, with a deadline of its own.
      const v = store.submit(newJob({ jobId: `job-${i}`, deadline: now + 3_600_000 + (i % 7) * 60_000 }), {});
      if (v.kind !== "created") throw new Error("not created");
      if (i % 500 === 0) live.push(v.job.jobId);
      else store.cancel(v.job.jobId);
    }
    now += 120_000;
    let forgotten = 0;
    for (let r = store.sweep(10_000); r.forgotten > 0; r = store.sweep(10_000)) forgotten += r.forgotten;
    expect(forgotten).toBe(4990);
    // The ended and forgotten jobs' entries are gone an hour before their deadlines would have come.
    expect(store.dueEntries - base).toBe(live.length);
    now += 3_600_000 + 7 * 60_000;
    const ended = store.sweep(10_000).deadline.map((j) => j.jobId);
    expect(ended.sort()).toEqual([...live].sort());
    expect(store.dueEntries).toBe(base);
  });

  it("pages newest first through jobs that survive retention, after thousands were forgotten", () => {
    let now = 1_700_000_000_000;
    const store = new MemoryStore({ now: () => now });
    store.configure({ retentionMs: 60_000, maxRetained: 1_000_000, cancelGraceMs: 1000 });
    const ids: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const v = store.submit(newJob({ jobId: `job-${String(i).padStart(5, "0")}` }), {});
      if (v.kind === "created") ids.push(v.job.jobId);
    }
    // Every other job of the first 4,000 ends, then passes retention and is forgotten.
    for (let i = 0; i < 4000; i += 2) store.cancel(ids[i]!);
    now += 120_000;
    let forgotten = 0;
    for (let r = store.sweep(10_000); r.forgotten > 0; r = store.sweep(10_000)) forgotten += r.forgotten;
    expect(forgotten).toBe(2000);
    const live = ids.filter((_, i) => i >= 4000 || i % 2 === 1).reverse();
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = store.listJobs({}, 97, cursor);
      seen.push(...page.jobs.map((j) => j.jobId));
      cursor = page.cursor;
    } while (cursor !== undefined);
    expect(seen).toEqual(live);
    // A filter pages the same way; a cursor is a position, not a job id.
    expect(store.listJobs({ state: "cancelled" }, 10).jobs).toEqual([]);
    expect(store.listJobs({}, 10, ids[0]).jobs).toEqual([]);
    expect(store.listJobs({}, 3, jobCursor(store.getJob(ids[4001]!)!)).jobs.map((j) => j.jobId)).toEqual([ids[4000], ids[3999], ids[3997]]);
  });
});
