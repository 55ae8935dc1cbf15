import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { HardwareDevice } from "../../generated/types.js";
import { assignDevices, matchDevice, matchResources, MAX_DEVICE_PAIRS, type DeviceRequirement } from "../../src/matching/index.js";

const gpu = (vram: number, extra: Partial<HardwareDevice> = {}): HardwareDevice => ({ type: "gpu", properties: { vram_gb: vram }, ...extra });
const needGpu = (vram: number): DeviceRequirement => ({ type: "gpu", properties: { vram_gb: vram } });

describe("8.2 matchDevice", () => {
  const d: HardwareDevice = { type: "gpu", model: "NVIDIA GeForce RTX 4090 Ti", id: "gpu-0", properties: { vram_gb: 24 }, metrics: { temp: 90 } };
  it("type exact and case-sensitive; empty type matches any", () => {
    expect(matchDevice(d, { type: "gpu" })).toBe(true);
    expect(matchDevice(d, { type: "GPU" })).toBe(false);
    expect(matchDevice(d, { type: "sensor" })).toBe(false);
    expect(matchDevice(d, { type: "" })).toBe(true);
    expect(matchDevice(d, {})).toBe(true);
  });
  it("model: case-insensitive substring; the device must have a model", () => {
    expect(matchDevice(d, { type: "gpu", model: "rtx 4090" })).toBe(true);
    expect(matchDevice(d, { type: "gpu", model: "RTX 3090" })).toBe(false);
    expect(matchDevice({ type: "gpu" }, { type: "gpu", model: "rtx" })).toBe(false);
    expect(matchDevice({ type: "gpu" }, { type: "gpu", model: "" })).toBe(true);
  });
  it("id exact; empty id matches any", () => {
    expect(matchDevice(d, { id: "gpu-0" })).toBe(true);
    expect(matchDevice(d, { id: "GPU-0" })).toBe(false);
    expect(matchDevice(d, { id: "" })).toBe(true);
    expect(matchDevice({ type: "gpu" }, { id: "gpu-0" })).toBe(false);
  });
  it("values of the wrong JSON type are not wildcards", () => {
    expect(matchDevice(d, { type: 5 } as unknown as HardwareDevice)).toBe(false);
    expect(matchDevice(d, { model: 4090 } as unknown as HardwareDevice)).toBe(false);
    expect(matchDevice(d, { type: null, id: null } as unknown as HardwareDevice)).toBe(true);
  });
  it("properties per 8.1; metrics ignored", () => {
    expect(matchDevice(d, { type: "gpu", properties: { vram_gb: 16 } })).toBe(true);
    expect(matchDevice(d, { type: "gpu", properties: { vram_gb: 32 } })).toBe(false);
    expect(matchDevice(d, { type: "gpu", properties: { temp: 50 } })).toBe(false);
    expect(matchDevice(d, { type: "gpu", metrics: { temp: 100 } })).toBe(true);
  });
});

describe("8.3 device assignment", () => {
  const workerDevices = [gpu(24, { id: "A" }), gpu(8, { id: "B" })];

  it("the greedy counterexample: rxon accepts, reference parity rejects", () => {
    const req = [needGpu(8), needGpu(16)];
    expect(assignDevices(workerDevices, req)).toEqual([1, 0]);
    expect(assignDevices(workerDevices, req, { parity: "reference" })).toBeNull();
    expect(matchResources({ devices: workerDevices }, { devices: req })).toBe(true);
    expect(matchResources({ devices: workerDevices }, { devices: req }, { parity: "reference" })).toBe(false);
  });

  it("the reversed order is accepted by both, with the same assignment", () => {
    const req = [needGpu(16), needGpu(8)];
    expect(assignDevices(workerDevices, req)).toEqual([0, 1]);
    expect(assignDevices(workerDevices, req, { parity: "reference" })).toEqual([0, 1]);
  });

  it("every permutation of the counterexample (devices and requirements) is accepted", () => {
    const devs = [gpu(24), gpu(8), gpu(16)];
    const reqs = [needGpu(8), needGpu(16), needGpu(24)];
    const perms = <T>(xs: T[]): T[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p])));
    let greedyRejected = 0;
    for (const d of perms(devs)) {
      for (const r of perms(reqs)) {
        const got = assignDevices(d, r);
        expect(got).not.toBeNull();
        // Each requirement is served by a distinct matching device.
        expect(new Set(got).size).toBe(r.length);
        got!.forEach((j, i) => expect(matchDevice(d[j]!, r[i]!)).toBe(true));
        if (assignDevices(d, r, { parity: "reference" }) === null) greedyRejected++;
      }
    }
    expect(greedyRejected).toBeGreaterThan(0);
  });

  it("first fit handing the biggest card to the smallest need is re-routed", () => {
    const devs = [gpu(80), gpu(48), gpu(24), gpu(8)];
    const req = [needGpu(8), needGpu(80), needGpu(48)];
    expect(assignDevices(devs, req)).toEqual([2, 0, 1]);
    expect(assignDevices(devs, req, { parity: "reference" })).toBeNull();
  });

  it("each required device consumes a distinct device", () => {
    expect(assignDevices([gpu(24)], [needGpu(8), needGpu(8)])).toBeNull();
    expect(assignDevices([gpu(24), gpu(24)], [needGpu(8), needGpu(8)])).toEqual([0, 1]);
    expect(matchResources({ devices: [gpu(24)] }, { devices: [needGpu(8), needGpu(8)] }, { parity: "reference" })).toBe(false);
  });

  it("no required devices matches anything, even no devices", () => {
    expect(assignDevices([], [])).toEqual([]);
    expect(matchResources({}, { devices: [] })).toBe(true);
    expect(matchResources(undefined, {})).toBe(true);
    expect(matchResources(undefined, { devices: [needGpu(1)] })).toBe(false);
  });

  it("resources properties per 8.1 after devices", () => {
    const w = { devices: [gpu(24)], properties: { cpu_cores: 8, ram_gb: 32, os: "linux", tags: ["a", "b"] } };
    expect(matchResources(w, { devices: [needGpu(16)], properties: { ram_gb: 16, os: ["linux", "darwin"], tags: "b" } })).toBe(true);
    expect(matchResources(w, { devices: [needGpu(16)], properties: { ram_gb: 64 } })).toBe(false);
    expect(matchResources(w, { properties: { gpu: true } })).toBe(false);
  });

  it("refuses absurd sizes without work", () => {
    const many = Array.from({ length: 1100 }, () => gpu(1));
    expect(MAX_DEVICE_PAIRS).toBeLessThan(1100 * 1100);
    expect(assignDevices(many, many.map(() => needGpu(1)))).toBeNull();
  });

  it("a long augmenting chain is found without recursion", () => {
    // Requirement i accepts devices i and i+1; first fit takes device i for each... except that
    // the last requirement only accepts device 0, forcing every earlier one to shift by one.
    const n = 300;
    const devs = Array.from({ length: n }, (_, i) => ({ type: "d", id: String(i), properties: { k: [i] } }));
    const reqs: DeviceRequirement[] = Array.from({ length: n }, (_, i) => ({ type: "d", properties: { k: [i, i + 1] } }));
    reqs[n - 1] = { type: "d", properties: { k: [0] } };
    // Requirement n-1 wants device 0; requirements 0..n-2 accept devices i and i+1.
    const got = assignDevices(devs, reqs);
    expect(got).not.toBeNull();
    expect(got![n - 1]).toBe(0);
    expect(assignDevices(devs, reqs, { parity: "reference" })).toBeNull();
  });

  it("property: finds an assignment whenever brute force over all permutations does", () => {
    const device = fc.record({ type: fc.constantFrom("gpu", "npu"), properties: fc.record({ v: fc.integer({ min: 0, max: 4 }) }) });
    const requirement = fc.record({ type: fc.constantFrom("gpu", "npu", ""), properties: fc.record({ v: fc.integer({ min: 0, max: 4 }) }) });
    const brute = (devs: HardwareDevice[], reqs: DeviceRequirement[]): boolean => {
      const used = new Array<boolean>(devs.length).fill(false);
      const go = (i: number): boolean => {
        if (i === reqs.length) return true;
        for (let j = 0; j < devs.length; j++) {
          if (used[j] || !matchDevice(devs[j]!, reqs[i]!)) continue;
          used[j] = true;
          if (go(i + 1)) return true;
          used[j] = false;
        }
        return false;
      };
      return go(0);
    };
    fc.assert(
      fc.property(fc.array(device, { maxLength: 6 }), fc.array(requirement, { maxLength: 5 }), (devs, reqs) => {
        const got = assignDevices(devs, reqs);
        expect(got !== null).toBe(brute(devs, reqs));
        if (got) {
          expect(new Set(got).size).toBe(reqs.length);
          got.forEach((j, i) => expect(matchDevice(devs[j]!, reqs[i]!)).toBe(true));
          // Whenever first fit succeeds, the answer is first fit's.
          const greedy = assignDevices(devs, reqs, { parity: "reference" });
          if (greedy) expect(got).toEqual(greedy);
        }
      }),
      { numRuns: 500, seed: 42 },
    );
  });
});
