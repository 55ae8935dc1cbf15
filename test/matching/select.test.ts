import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { HardwareDevice } from "../../generated/types.js";
import { matchWorker, selectWorkers, WorkerIndex, type WorkerRecord, type WorkerRequirement } from "../../src/matching/index.js";

const gpu = (vram: number): HardwareDevice => ({ type: "gpu", model: "RTX", properties: { vram_gb: vram } });

function worker(id: string, over: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    worker_id: id,
    supported_skills: [{ name: "infer", type: "llm", version: "1.0.0", properties: { price: 2 } }, { name: "echo" }],
    resources: { devices: [gpu(24), gpu(8)], properties: { cpu_cores: 8, ram_gb: 32 } },
    installed_artifacts: [{ name: "llama", version: "3" }],
    installed_software: { python: "3.12", cuda: "12.4" },
    capabilities: { extra: { websockets: true, region: "eu" } },
    ...over,
  };
}

describe("matchWorker (8.6)", () => {
  const w = worker("w1");
  it("skill by name, then version/type/properties", () => {
    expect(matchWorker(w, { skill: "infer" })).toBe(true);
    expect(matchWorker(w, { skill: "train" })).toBe(false);
    expect(matchWorker(w, { skill: "infer", skillVersion: "1.0.0", skillType: "llm" })).toBe(true);
    expect(matchWorker(w, { skill: "infer", skillVersion: "2" })).toBe(false);
    expect(matchWorker(w, { skill: "echo", skillVersion: "1.0.0" })).toBe(false);
    expect(matchWorker(w, { skill: "infer", skillProperties: { price: 2 } })).toBe(true);
    expect(matchWorker(w, { skill: "infer", skillProperties: { type: "llm" } })).toBe(true);
    expect(matchWorker(w, { skill: "infer", skillProperties: { price: 3 } })).toBe(false);
  });
  it("status: idle or absent only, unless widened; draining never by default", () => {
    expect(matchWorker({ ...w, status: "idle" }, { skill: "infer" })).toBe(true);
    expect(matchWorker({ ...w, status: "draining" }, { skill: "infer" })).toBe(false);
    expect(matchWorker({ ...w, status: "busy" }, { skill: "infer" })).toBe(false);
    expect(matchWorker({ ...w, status: "busy" }, { skill: "infer" }, { statuses: ["idle", "busy"] })).toBe(true);
  });
  it("resources, flat resources wrapped into properties", () => {
    expect(matchWorker(w, { skill: "infer", resources: { devices: [{ type: "gpu", properties: { vram_gb: 8 } }, { type: "gpu", properties: { vram_gb: 16 } }] } })).toBe(true);
    expect(matchWorker(w, { skill: "infer", resources: { devices: [{ type: "gpu", properties: { vram_gb: 8 } }, { type: "gpu", properties: { vram_gb: 16 } }] } }, { parity: "reference" })).toBe(false);
    expect(matchWorker(w, { skill: "infer", resources: { cpu_cores: 4, ram_gb: 32 } })).toBe(true);
    expect(matchWorker(w, { skill: "infer", resources: { cpu_cores: 16 } })).toBe(false);
  });
  it("artifacts (strings are names), no consumption", () => {
    expect(matchWorker(w, { skill: "infer", artifacts: ["llama", { name: "llama", version: "3" }] })).toBe(true);
    expect(matchWorker(w, { skill: "infer", artifacts: [{ name: "llama", version: "2" }] })).toBe(false);
    expect(matchWorker(w, { skill: "infer", artifacts: ["mistral"] })).toBe(false);
  });
  it("software: exact version or any", () => {
    expect(matchWorker(w, { skill: "infer", software: { python: "3.12", cuda: "any" } })).toBe(true);
    expect(matchWorker(w, { skill: "infer", software: { python: "3.11" } })).toBe(false);
    expect(matchWorker(w, { skill: "infer", software: { rust: "any" } })).toBe(false);
    expect(matchWorker(w, { skill: "infer", software: { toString: "any" } })).toBe(false);
  });
  it("extra: exact equality against capabilities.extra", () => {
    expect(matchWorker(w, { skill: "infer", extra: { websockets: true, region: "eu" } })).toBe(true);
    expect(matchWorker(w, { skill: "infer", extra: { region: "us" } })).toBe(false);
    expect(matchWorker(w, { skill: "infer", extra: { websockets: 1 } })).toBe(false);
    expect(matchWorker(w, { skill: "infer", extra: { websockets: 1 } }, { parity: "reference" })).toBe(true);
  });
  it("params must satisfy the skill's input schema when non-empty", () => {
    const s = worker("s", { supported_skills: [{ name: "infer", input_schema: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] } }] });
    expect(matchWorker(s, { skill: "infer", params: { n: 3 } })).toBe(true);
    expect(matchWorker(s, { skill: "infer", params: { n: "3" } })).toBe(false);
    expect(matchWorker(s, { skill: "infer", params: {} })).toBe(true);
  });
});

describe("selectWorkers and WorkerIndex", () => {
  it("selects in fleet order with a limit, over a list and over an index", () => {
    const fleet = [worker("a"), worker("b", { status: "draining" }), worker("c", { resources: { properties: { ram_gb: 8 } } }), worker("d")];
    const req: WorkerRequirement = { skill: "infer", resources: { ram_gb: 16 } };
    expect(selectWorkers(req, fleet).map((w) => w.worker_id)).toEqual(["a", "d"]);
    expect(selectWorkers(req, fleet, { limit: 1 }).map((w) => w.worker_id)).toEqual(["a"]);
    const index = new WorkerIndex();
    for (const w of fleet) index.add(w);
    expect(selectWorkers(req, index).map((w) => w.worker_id)).toEqual(["a", "d"]);
    expect(index.select(req, { limit: 0 })).toEqual([]);
  });

  it("tracks status changes, replacements and removals", () => {
    const index = new WorkerIndex();
    index.add(worker("a"));
    index.add(worker("b"));
    const req: WorkerRequirement = { skill: "infer" };
    expect(index.setStatus("a", "busy")).toBe(true);
    expect(index.select(req).map((w) => w.worker_id)).toEqual(["b"]);
    index.setStatus("a", "idle");
    expect(index.select(req).map((w) => w.worker_id)).toEqual(["a", "b"]);
    index.add(worker("a", { supported_skills: [{ name: "echo" }] }));
    expect(index.select(req).map((w) => w.worker_id)).toEqual(["b"]);
    expect(index.select({ skill: "echo" }).map((w) => w.worker_id)).toEqual(["a", "b"]);
    index.update("b", { resources: { properties: { ram_gb: 1 } } });
    expect(index.select({ skill: "infer", resources: { ram_gb: 2 } })).toEqual([]);
    expect(index.remove("b")).toBe(true);
    expect(index.remove("b")).toBe(false);
    expect(index.select({ skill: "echo" }).map((w) => w.worker_id)).toEqual(["a"]);
    expect(index.size).toBe(1);
    expect(index.update("zz", { status: "idle" })).toBe(false);
    expect(() => index.add({} as WorkerRecord)).toThrow(/worker_id/);
  });

  it("property: the index selects exactly what a scan selects", () => {
    const device = fc.record({ type: fc.constantFrom("gpu", "npu"), properties: fc.record({ vram_gb: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.boolean(), fc.array(fc.integer({ min: 0, max: 64 }), { maxLength: 2 })) }) });
    const rec = fc.record({
      skills: fc.subarray(["infer", "echo", "train"]),
      status: fc.constantFrom(undefined, "idle", "busy", "draining"),
      devices: fc.array(device, { maxLength: 4 }),
      ram: fc.oneof(fc.integer({ min: 0, max: 256 }), fc.constant("lots")),
    });
    const requirement = fc.record({
      skill: fc.constantFrom("infer", "echo", "train"),
      ram: fc.option(fc.integer({ min: 0, max: 256 }), { nil: undefined }),
      devices: fc.array(fc.record({ type: fc.constantFrom("gpu", "npu", ""), properties: fc.record({ vram_gb: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.boolean()) }) }), { maxLength: 3 }),
      limit: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
      parity: fc.constantFrom("rxon" as const, "reference" as const),
    });
    fc.assert(
      fc.property(fc.array(rec, { minLength: 600, maxLength: 700 }), fc.array(requirement, { minLength: 1, maxLength: 5 }), (recs, reqs) => {
        const fleet: WorkerRecord[] = recs.map((r, i) => ({
          worker_id: `w${i}`,
          status: r.status,
          supported_skills: r.skills.map((name) => ({ name })),
          resources: { devices: r.devices, properties: { ram_gb: r.ram } },
        }));
        const index = new WorkerIndex();
        for (const w of fleet) index.add(w);
        for (const r of reqs) {
          const req: WorkerRequirement = { skill: r.skill, resources: { devices: r.devices, properties: r.ram === undefined ? {} : { ram_gb: r.ram } } };
          const opts = { limit: r.limit, parity: r.parity };
          expect(index.select(req, opts).map((w) => w.worker_id)).toEqual(selectWorkers(req, fleet, opts).map((w) => w.worker_id));
        }
      }),
      { numRuns: 15, seed: 7 },
    );
  });
});
