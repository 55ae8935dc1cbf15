/**
 * `selectWorkers`: the workers of a fleet that may run a task. Over a plain list it is one pass
 * with the cheap tests first; over a {@link WorkerIndex} it uses the index, which is what
 * repeated selection over a large fleet should use.
 */
import { findSkill, hostSatisfies, normalizeArtifacts, normalizeResources, paramsSatisfy, skillSatisfies, type WorkerRecord, type WorkerRequirement } from "./requirement.js";
import { WorkerIndex, type SelectLimitOptions } from "./worker-index.js";

/**
 * The workers that satisfy `req`, in fleet order (earliest added first for an index), at most
 * `options.limit`. Status must be one of `options.statuses` (default idle; absent counts as idle).
 */
export function selectWorkers(
  req: WorkerRequirement,
  workers: Iterable<WorkerRecord> | WorkerIndex,
  options: SelectLimitOptions = {},
): WorkerRecord[] {
  if (workers instanceof WorkerIndex) return workers.select(req, options);
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const out: WorkerRecord[] = [];
  if (!(limit > 0)) return out;
  const statuses = options.statuses ?? ["idle"];
  const resources = normalizeResources(req.resources);
  const artifacts = normalizeArtifacts(req.artifacts);
  for (const w of workers) {
    if (w === null || typeof w !== "object") continue;
    if (!statuses.includes(w.status ?? "idle")) continue;
    const skill = findSkill(w.supported_skills, req.skill);
    if (!skill || !skillSatisfies(skill, req, options)) continue;
    if (!hostSatisfies(w, resources, artifacts, req, options)) continue;
    if (!paramsSatisfy(skill, req.params)) continue;
    out.push(w);
    if (out.length >= limit) break;
  }
  return out;
}
