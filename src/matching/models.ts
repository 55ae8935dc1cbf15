/**
 * Matching of the composite models: resources (8.3), installed artifacts (8.4) and skills (8.5).
 */
import type { InstalledArtifact, Resources, SkillInfo } from "../../generated/types.js";
import { matchProperties, type MatchOptions, type PropertyBag } from "./compare.js";
import { assignDevices, type DeviceRequirement } from "./devices.js";

/** A resources requirement: devices to consume and generic properties to satisfy. */
export interface ResourcesRequirement {
  /** Each required device consumes one distinct available device. */
  devices?: readonly DeviceRequirement[];
  /** Generic properties per 8.1, e.g. `{ ram_gb: 32, os: ["linux"] }`. */
  properties?: PropertyBag;
}

/** An artifact requirement; `version` absent or `"unknown"` means any version. */
export type ArtifactRequirement = Partial<Omit<InstalledArtifact, "name">> & { name: string };

/** A skill requirement (8.5): `type` and `version`, when given (not null), must be equal. */
export interface SkillRequirement {
  /** Skill name = task type; compared exactly. */
  name: string;
  /** Required skill type; `null`/absent means any. An empty string only matches an empty type. */
  type?: string | null;
  /** Required skill version; `null`/absent means any. */
  version?: string | null;
}

/**
 * Do `available` resources satisfy `required` (8.3)? Required devices are assigned to distinct
 * available devices (optimally by default, greedily in reference parity); properties per 8.1.
 */
export function matchResources(
  available: Resources | null | undefined,
  required: ResourcesRequirement | null | undefined,
  options: MatchOptions = {},
): boolean {
  if (required === null || required === undefined) return true;
  const devices = required.devices;
  if (devices !== undefined && devices !== null && devices.length > 0) {
    if (assignDevices(available?.devices ?? [], devices, options) === null) return false;
  }
  return matchProperties(available?.properties, required.properties, options);
}

/**
 * Does an installed artifact satisfy a requirement (8.4)? Names exactly; versions exactly unless
 * the requirement's is absent or `"unknown"`; `type` ignored; properties per 8.1.
 */
export function matchArtifact(available: InstalledArtifact, required: ArtifactRequirement, options: MatchOptions = {}): boolean {
  if (available.name !== required.name) return false;
  const version = required.version ?? "unknown";
  if (version !== "unknown" && version !== (available.version ?? "unknown")) return false;
  return matchProperties(available.properties, required.properties, options);
}

/**
 * Does a skill satisfy a requirement (8.5)? Names exactly; `type` and `version` exactly when the
 * requirement gives them. A skill without a version fails any versioned requirement.
 */
export function matchSkill(available: SkillInfo, required: SkillRequirement): boolean {
  if (available.name !== required.name) return false;
  if (required.type !== null && required.type !== undefined && required.type !== available.type) return false;
  if (required.version !== null && required.version !== undefined && required.version !== available.version) return false;
  return true;
}
