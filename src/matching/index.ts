/**
 * Matching (PROTOCOL.md 8): which worker may run which task. Two deliberate improvements over the
 * Python reference, both switchable off with `parity: "reference"`: booleans are not numbers, and
 * required devices are assigned optimally instead of first fit.
 */
export { matchProperties, propertySatisfies, valuesEqual, type MatchOptions, type MatchParity, type PropertyBag } from "./compare.js";
export { assignDevices, matchDevice, MAX_DEVICE_PAIRS, type DeviceRequirement } from "./devices.js";
export { matchArtifact, matchResources, matchSkill, type ArtifactRequirement, type ResourcesRequirement, type SkillRequirement } from "./models.js";
export { matchWorker, type SelectOptions, type WorkerRecord, type WorkerRequirement } from "./requirement.js";
export { selectWorkers } from "./select.js";
export { WorkerIndex, type SelectLimitOptions } from "./worker-index.js";
