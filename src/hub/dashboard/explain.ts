/**
 * Why no connected worker can run a queued task: the matching module's checks applied one
 * stage at a time (skill, version and type, resources, artifacts, software, extras, then
 * status), so the answer names the first requirement that nobody meets.
 */
import { findSkill, hostSatisfies, normalizeArtifacts, normalizeResources, skillSatisfies, type WorkerRecord as MatchWorker, type WorkerRequirement } from "../../matching/requirement.js";
import { requirementOf, matchView } from "../dispatch.js";
import type { JobRecord, WorkerRecord } from "../store.js";
import { preview } from "./bounded.js";

/** Which requirement nobody meets. */
export type BlockReason = "missing_skill" | "version" | "skill_type" | "resources" | "artifacts" | "software" | "extra" | "no_dispatchable_worker";

/** A reason and its human wording. */
export interface Explanation {
  readonly reason: BlockReason;
  readonly detail: string;
}

/** Workers looked at per question: bounds the work of one answer on a very large fleet. */
export const MAX_CANDIDATES = 2000;

/** Workers prepared once per analysis: their matching view, status and skills by name. */
export interface FleetIndex {
  readonly bySkill: ReadonlyMap<string, readonly { view: MatchWorker; status: string }[]>;
  readonly size: number;
}

/** Indexes workers by skill name for {@link explain}. */
export function indexFleet(workers: readonly WorkerRecord[]): FleetIndex {
  const bySkill = new Map<string, { view: MatchWorker; status: string }[]>();
  for (const w of workers) {
    const entry = { view: matchView(w), status: w.status };
    const seen = new Set<string>();
    for (const s of w.skills) {
      if (typeof s?.name !== "string" || seen.has(s.name)) continue;
      seen.add(s.name);
      let list = bySkill.get(s.name);
      if (list === undefined) bySkill.set(s.name, (list = []));
      list.push(entry);
    }
  }
  return { bySkill, size: workers.length };
}

/** The requirement a job's grouping key is made of (params left out: they differ per task). */
export function groupKey(job: JobRecord): string {
  return `${job.type}\u0000${preview(job.requirements, 4000) ?? ""}`;
}

/**
 * Why no worker of `fleet` can run `job`; null when one can (with a status that takes work).
 * Parameters are not checked here: the hub already checks them against known contracts at submit.
 */
export function explain(job: JobRecord, fleet: FleetIndex, dispatchable: readonly string[]): Explanation | null {
  const req: WorkerRequirement = { ...requirementOf(job) };
  delete req.params;
  const all = (fleet.bySkill.get(job.type) ?? []).slice(0, MAX_CANDIDATES);
  if (all.length === 0) return { reason: "missing_skill", detail: `No connected worker offers skill "${job.type}".` };

  const withSkill = all.filter((c) => {
    const s = findSkill(c.view.supported_skills, job.type);
    return s !== undefined && skillSatisfies(s, req);
  });
  if (withSkill.length === 0) {
    const offered = new Set(all.map((c) => String(findSkill(c.view.supported_skills, job.type)?.version ?? "?")));
    if (req.skillVersion != null && ![...offered].includes(req.skillVersion)) {
      return { reason: "version", detail: `Needs ${job.type} version ${req.skillVersion}; connected workers offer ${list(offered)}.` };
    }
    return { reason: "skill_type", detail: `Needs ${job.type} of type ${req.skillType ?? "?"}; no worker's skill has it.` };
  }

  const base: WorkerRequirement = { skill: job.type };
  const resources = normalizeResources(req.resources);
  const artifacts = normalizeArtifacts(req.artifacts);
  const stages: [BlockReason, (v: MatchWorker) => boolean, string][] = [
    ["resources", (v) => hostSatisfies(v, resources, [], base), `resources ${preview(req.resources, 300) ?? ""}`],
    ["artifacts", (v) => hostSatisfies(v, undefined, artifacts, base), `artifacts ${preview(req.artifacts, 300) ?? ""}`],
    ["software", (v) => hostSatisfies(v, undefined, [], { ...base, ...(req.software ? { software: req.software } : {}) }), `software ${preview(req.software, 300) ?? ""}`],
    ["extra", (v) => hostSatisfies(v, undefined, [], { ...base, ...(req.extra ? { extra: req.extra } : {}) }), `capabilities ${preview(req.extra, 300) ?? ""}`],
  ];
  let candidates = withSkill;
  for (const [reason, ok, what] of stages) {
    const next = candidates.filter((c) => ok(c.view));
    if (next.length === 0) {
      return { reason, detail: `Needs ${what}; none of the ${candidates.length} worker(s) offering ${job.type} has them.` };
    }
    candidates = next;
  }
  if (candidates.some((c) => dispatchable.includes(c.status))) return null;
  const statuses = new Set(candidates.map((c) => c.status));
  return {
    reason: "no_dispatchable_worker",
    detail: `${candidates.length} worker(s) could run it but none takes work now (status ${list(statuses)}).`,
  };
}

function list(values: Iterable<string>): string {
  const all = [...values].map((v) => v.slice(0, 32));
  return all.length <= 5 ? all.join(", ") : `${all.slice(0, 5).join(", ")} and ${all.length - 5} more`;
}
