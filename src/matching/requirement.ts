/**
 * What a task requires of a worker, what a worker record holds, and the full check of one worker
 * against one requirement (PROTOCOL.md 8.6, without cost, reputation and dispatch strategy,
 * which are the orchestrator's business).
 */
import type { InstalledArtifact, SkillInfo, WorkerRegistration } from "../../generated/types.js";
import { ownValue, valuesEqual, type MatchOptions, type PropertyBag } from "./compare.js";
import { validateParams, type ContractResult } from "../contracts/validate.js";
import { matchArtifact, matchResources, matchSkill, type ArtifactRequirement, type ResourcesRequirement } from "./models.js";

/** A worker as selection sees it: its registration plus its last reported status. */
export interface WorkerRecord
  extends Pick<WorkerRegistration, "worker_id" | "supported_skills" | "hot_skills" | "resources" | "installed_artifacts" | "installed_software" | "capabilities"> {
  /** Last status from a heartbeat; absent means `idle` (a fresh registration). */
  status?: string;
}

/** What a task requires of the worker that runs it. */
export interface WorkerRequirement {
  /** Skill name (the task `type`); the worker must list a skill with exactly this name. */
  skill: string;
  /** Required skill version (task `skill_version`), compared exactly. */
  skillVersion?: string | null;
  /** Required skill type (task `skill_type`), compared exactly. */
  skillType?: string | null;
  /**
   * Further skill requirements: each key must equal the skill's own field of that name, or
   * else the skill's `properties[key]`.
   */
  skillProperties?: PropertyBag;
  /**
   * Resources. A flat object without `devices` and `properties` (e.g. `{ cpu_cores: 4 }`) is
   * read as properties, as the orchestrator does.
   */
  resources?: ResourcesRequirement | PropertyBag;
  /** Artifacts that must be installed; a string is an artifact name at any version. */
  artifacts?: readonly (ArtifactRequirement | string)[];
  /** Software that must be installed: name → exact version, or `"any"`. */
  software?: { readonly [name: string]: string | undefined };
  /** Capabilities that must equal `capabilities.extra[key]` exactly. */
  extra?: PropertyBag;
  /**
   * Task params: when present and non-empty, they must satisfy the candidate skill's
   * `input_schema` (checked last, it is the most expensive test).
   */
  params?: PropertyBag;
}

/** Options of {@link matchWorker} and selection. */
export interface SelectOptions extends MatchOptions {
  /** Statuses that may take work. Default `["idle"]` (a record without status counts as idle). */
  statuses?: readonly string[];
}

const DEFAULT_STATUSES: readonly string[] = ["idle"];

/** Resources requirement normalised to `{devices, properties}` (8.6: flat objects are properties). */
export function normalizeResources(resources: ResourcesRequirement | PropertyBag | null | undefined): ResourcesRequirement | undefined {
  if (resources === null || resources === undefined) return undefined;
  const r = resources as PropertyBag;
  if (ownValue(r, "devices") !== undefined || ownValue(r, "properties") !== undefined) return resources as ResourcesRequirement;
  return { properties: r };
}

/** Artifact requirements normalised to objects (strings become `{name}`). */
export function normalizeArtifacts(artifacts: readonly (ArtifactRequirement | string)[] | null | undefined): ArtifactRequirement[] {
  if (!artifacts) return [];
  return artifacts.map((a) => (typeof a === "string" ? { name: a } : a));
}

/** Is the worker's status one that may take work? */
export function statusEligible(status: string | undefined, statuses: readonly string[] = DEFAULT_STATUSES): boolean {
  return statuses.includes(status ?? "idle");
}

/** The worker's skill named `name` (the first one, as the orchestrator looks it up), if any. */
export function findSkill(skills: readonly SkillInfo[] | null | undefined, name: string): SkillInfo | undefined {
  if (!skills) return undefined;
  for (const s of skills) if (s !== null && typeof s === "object" && s.name === name) return s;
  return undefined;
}

/** Skill-level checks: 8.5 plus the `skillProperties` equality rule. */
export function skillSatisfies(skill: SkillInfo, req: WorkerRequirement, options: MatchOptions = {}): boolean {
  if (!matchSkill(skill, { name: req.skill, type: req.skillType ?? null, version: req.skillVersion ?? null })) return false;
  const props = req.skillProperties;
  if (props) {
    for (const k in props) {
      if (!Object.prototype.hasOwnProperty.call(props, k) || props[k] === undefined) continue;
      let have = ownValue(skill as unknown as PropertyBag, k);
      if (have === undefined || have === null) have = ownValue(skill.properties, k);
      if (!valuesEqual(have, props[k], options.parity)) return false;
    }
  }
  return true;
}

/** The params rule of 8.6: non-empty params must satisfy the skill's input schema (json-schema dialect); `checked` is that check when already made. */
export function paramsSatisfy(skill: SkillInfo, params: PropertyBag | undefined, checked?: ContractResult): boolean {
  if (params === undefined || params === null) return true;
  for (const k in params) {
    if (!Object.prototype.hasOwnProperty.call(params, k)) continue;
    // A dialect rxon cannot check is left to the worker, which knows it (as the reference does).
    const result = checked ?? validateParams(skill, params);
    return result.ok || result.reason === "unsupported_dialect";
  }
  return true;
}

/** Checks everything of a requirement that is not about the skill or status. */
export function hostSatisfies(
  worker: WorkerRecord,
  resources: ResourcesRequirement | undefined,
  artifacts: readonly ArtifactRequirement[],
  req: WorkerRequirement,
  options: MatchOptions = {},
): boolean {
  if (resources && !matchResources(worker.resources, resources, options)) return false;
  if (artifacts.length > 0) {
    const installed: readonly InstalledArtifact[] = worker.installed_artifacts ?? [];
    for (const need of artifacts) {
      let found = false;
      for (const have of installed) {
        if (matchArtifact(have, need, options)) {
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
  }
  const software = req.software;
  if (software) {
    for (const name in software) {
      if (!Object.prototype.hasOwnProperty.call(software, name)) continue;
      const want = software[name];
      if (want === undefined) continue;
      const have = ownValue(worker.installed_software, name);
      if (typeof have !== "string" || (want !== "any" && want !== have)) return false;
    }
  }
  if (req.extra) {
    const extra = worker.capabilities?.extra;
    for (const k in req.extra) {
      if (!Object.prototype.hasOwnProperty.call(req.extra, k) || req.extra[k] === undefined) continue;
      if (!valuesEqual(ownValue(extra, k), req.extra[k], options.parity)) return false;
    }
  }
  return true;
}

/**
 * Does this worker satisfy the requirement? Status eligible, a skill with the requirement's name
 * that matches version, type and properties, then resources, artifacts, software and extras.
 */
export function matchWorker(worker: WorkerRecord, req: WorkerRequirement, options: SelectOptions = {}): boolean {
  if (!statusEligible(worker.status, options.statuses)) return false;
  const skill = findSkill(worker.supported_skills, req.skill);
  if (!skill || !skillSatisfies(skill, req, options)) return false;
  return (
    hostSatisfies(worker, normalizeResources(req.resources), normalizeArtifacts(req.artifacts), req, options) &&
    paramsSatisfy(skill, req.params)
  );
}

