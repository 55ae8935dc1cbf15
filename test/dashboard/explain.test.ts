/** Why no connected worker can run a queued task: each reason, named by the first unmet requirement. */
import { describe, expect, it } from "vitest";
import { explain, indexFleet } from "../../src/hub/dashboard/explain.js";
import { DEFAULT_DISPATCHABLE_STATUSES } from "../../src/hub/dashboard/source.js";
import type { JobRecord, WorkerRecord } from "../../src/hub/store.js";
import type { TaskRequirements } from "../../src/hub/types.js";

function worker(id: string, extra: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    id,
    status: "idle",
    workerType: "generic",
    skills: [{ name: "render", version: "1.0.0", type: "gpu" }],
    resources: { devices: [{ type: "gpu", id: "g0", properties: { vram_gb: 24 } }], properties: { cpu_cores: 8 } },
    installedArtifacts: [{ name: "model-a", version: "1" }],
    installedSoftware: { ffmpeg: "6.1" },
    capabilities: { extra: { region: "eu" } },
    registeredAt: 0,
    lastSeenAt: 0,
    expiresAt: 1,
    ...extra,
  };
}

function job(type: string, requirements: TaskRequirements = {}): JobRecord {
  return { jobId: "j", taskId: "t", generation: 0, queue: type, type, params: {}, requirements, priority: 0, maxRetries: 0, attempts: 0, state: "waiting_for_worker", seq: 0, submittedAt: 0 };
}

const fleet = indexFleet([worker("a"), worker("b", { skills: [{ name: "render", version: "2.0.0", type: "gpu" }] })]);
const why = (j: JobRecord, f = fleet) => explain(j, f, DEFAULT_DISPATCHABLE_STATUSES);

describe("explain", () => {
  it("is null when a worker can run the task", () => {
    expect(why(job("render"))).toBeNull();
    expect(why(job("render", { skillVersion: "2.0.0", resources: { devices: [{ type: "gpu", properties: { vram_gb: 16 } }] } }))).toBeNull();
  });

  it("names the first requirement nobody meets", () => {
    expect(why(job("encode"))).toMatchObject({ reason: "missing_skill" });
    const v = why(job("render", { skillVersion: "3.0.0" }));
    expect(v?.reason).toBe("version");
    expect(v?.detail).toContain("1.0.0, 2.0.0");
    expect(why(job("render", { skillType: "cpu" }))).toMatchObject({ reason: "skill_type" });
    expect(why(job("render", { resources: { devices: [{ type: "gpu", properties: { vram_gb: 80 } }] } }))).toMatchObject({ reason: "resources" });
    expect(why(job("render", { resources: { properties: { cpu_cores: 64 } } }))).toMatchObject({ reason: "resources" });
    expect(why(job("render", { artifacts: ["model-b"] }))).toMatchObject({ reason: "artifacts" });
    expect(why(job("render", { software: { ffmpeg: "7.0" } }))).toMatchObject({ reason: "software" });
    expect(why(job("render", { extra: { region: "us" } }))).toMatchObject({ reason: "extra" });
    // Version first: a task wanting both an unknown version and more VRAM is blocked by the version.
    expect(why(job("render", { skillVersion: "9", resources: { devices: [{ type: "gpu", properties: { vram_gb: 80 } }] } }))).toMatchObject({ reason: "version" });
  });

  it("tells when the only able workers take no work (draining)", () => {
    const draining = indexFleet([worker("a", { status: "draining" })]);
    const e = why(job("render"), draining);
    expect(e?.reason).toBe("no_dispatchable_worker");
    expect(e?.detail).toContain("draining");
  });
});
