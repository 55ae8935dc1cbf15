import { afterEach, describe, expect, it } from "vitest";
import { Hub } from "../../src/hub/index.js";
import { poll, register, result, SECRETS } from "./helpers.js";

const hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

describe("hub retention of ended jobs", () => {
  it("keeps the newest maxRetained ended jobs across sweeps and forgets older ones", async () => {
    const hub = new Hub({ auth: { tokens: SECRETS }, maxRetained: 5, sweepIntervalMs: 3_600_000 });
    hubs.push(hub);
    await register(hub, "cpu-1");
    const ids: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 1500; i++) {
        const h = await hub.submit({ type: "echo", params: { i } });
        const task = (await poll(hub, "cpu-1"))!;
        await result(hub, "cpu-1", { job_id: task.job_id, task_id: task.task_id, data: {} });
        ids.push(h.jobId);
      }
      await hub.sweep();
      const kept = [];
      for (const id of ids) if ((await hub.store.getJob(id)) !== undefined) kept.push(id);
      expect(kept).toEqual(ids.slice(-5));
    }
  });
});
