/**
 * The worker registry room: registration, heartbeats (status, usage, skills, lease
 * reconciliation, cancels in the reply), events (progress), and what happens when a worker goes.
 */
import { ProtocolVersion, WorkerStatus } from "../../generated/constants.js";
import type {
  EventResponse,
  Heartbeat,
  HeartbeatResponse,
  RegisterResponse,
  WorkerEventPayload,
  WorkerRegistration,
} from "../../generated/types.js";
import { schemaKey } from "../contracts/schema-key.js";
import { AuthError, RxonError } from "../errors.js";
import type { ListenerContext } from "../listener/types.js";
import type { HubCore } from "./core.js";
import { profileOf } from "./dispatch.js";
import { jobIdOfTask, type JobRecord, type SkillContract, type WorkerGone, type WorkerRecord } from "./store.js";

/** Protocol versions spoken without a mismatch warning (1.0b13 to 1.0b15 differ only in optional fields). */
const SUPPORTED_VERSIONS: ReadonlySet<string> = new Set(Object.values(ProtocolVersion));

/** What the registry tells the rest of the hub. */
export interface RegistryHooks {
  /** Jobs given back to the queue or ended by a transition of this room (lease loss, a worker gone). */
  released(jobs: readonly JobRecord[], reason: string, workerId: string): void;
  /** A worker stopped being dispatchable here (its held polls should end). */
  undispatchable(workerId: string): void;
}

/** A heartbeat from a worker the hub does not know: 404 so every SDK registers again. */
export function workerNotFound(workerId: string): RxonError {
  return new RxonError(`Worker not found: '${workerId.slice(0, 128)}' is not registered with this orchestrator. Register again.`, {
    status: 404,
    code: "WORKER_NOT_FOUND",
    details: { reason: "worker_not_found" },
  });
}

/** Contracts of a worker's skills, keyed by content (for the fleet-wide params check at submit). */
function contractsOf(worker: WorkerRecord): SkillContract[] {
  const out: SkillContract[] = [];
  for (const s of worker.skills) {
    if (s.input_schema === undefined) continue;
    try {
      out.push({ skill: s.name, key: schemaKey(s.input_schema), info: s });
    } catch {
      // A schema too large or deep to key is checked per worker at dispatch only.
    }
  }
  return out;
}

/** Registration, heartbeats and events of workers. */
export class Registry {
  readonly #core: HubCore;
  readonly #hooks: RegistryHooks;

  constructor(core: HubCore, hooks: RegistryHooks) {
    this.#core = core;
    this.#hooks = hooks;
  }

  async register(reg: WorkerRegistration, ctx: ListenerContext): Promise<RegisterResponse> {
    const core = this.#core;
    const id = await core.authenticate("register", ctx, reg.worker_id);
    if (reg.worker_id !== id) {
      const err = new AuthError("Immediate sender ID mismatch", { details: { reason: "sender_mismatch" } });
      core.refused("register", id, err);
      throw err;
    }
    try {
      await core.verify("register", ctx, id, true);
    } catch (err) {
      // Registering twice is harmless: an exact re-send (its answer was lost) is answered again.
      if (!isReplay(err)) throw err;
    }
    const now = core.now();
    const worker: WorkerRecord = {
      id,
      status: WorkerStatus.IDLE,
      workerType: reg.worker_type ?? "generic",
      skills: reg.supported_skills ?? [],
      registeredAt: now,
      lastSeenAt: now,
      expiresAt: now + core.settings.ttlMs,
      ...(reg.skills_hash !== undefined ? { skillsHash: reg.skills_hash } : {}),
      ...(reg.resources !== undefined ? { resources: reg.resources } : {}),
      ...(reg.installed_software !== undefined ? { installedSoftware: reg.installed_software } : {}),
      ...(reg.installed_artifacts !== undefined ? { installedArtifacts: reg.installed_artifacts } : {}),
      ...(reg.capabilities !== undefined ? { capabilities: reg.capabilities } : {}),
      ...(reg.hot_skills !== undefined ? { hotSkills: reg.hot_skills } : {}),
      ...(reg.available_skills !== undefined ? { availableSkills: reg.available_skills } : {}),
    };
    worker.profile = profileOf(worker);
    await core.store.register(worker, contractsOf(worker));
    core.workers?.forget(id);
    const skills = worker.skills.map((s) => s.name);
    core.logger.info({ worker_id: id, skills }, "hub: worker registered");
    core.events.emit("worker:registered", { workerId: id, skills });
    const response: RegisterResponse = { status: "registered", version: ProtocolVersion.CURRENT };
    if (ctx.protocolVersion !== null && !SUPPORTED_VERSIONS.has(ctx.protocolVersion)) {
      response.warning = `Protocol version mismatch! Orchestrator: ${ProtocolVersion.CURRENT}, Worker: ${ctx.protocolVersion.slice(0, 32)}.`;
    }
    return response;
  }

  async heartbeat(hb: Heartbeat | null, ctx: ListenerContext): Promise<HeartbeatResponse> {
    const core = this.#core;
    const id = await core.authenticate("heartbeat", ctx, hb?.worker_id);
    if (hb === null) {
      // A bodyless heartbeat only refreshes the lifetime.
      core.workers?.forget(id);
      if (!(await core.store.touch(id, core.settings.ttlMs))) throw workerNotFound(id);
      return { status: "ttl_refreshed" };
    }
    try {
      await core.verify("heartbeat", ctx, id, true);
    } catch (err) {
      // A heartbeat re-sent after a lost answer changes nothing the first did not: apply it again.
      if (!isReplay(err)) throw err;
    }
    if (hb.worker_id !== id) {
      const err = new AuthError("Heartbeat worker_id does not match the authenticated worker", { details: { reason: "sender_mismatch" } });
      core.refused("heartbeat", id, err);
      throw err;
    }
    const update = {
      status: hb.status,
      ttlMs: core.settings.ttlMs,
      leaseGraceMs: core.settings.leaseGraceMs,
      ...(hb.usage !== undefined ? { usage: hb.usage } : {}),
      ...(hb.hot_skills !== undefined ? { hotSkills: hb.hot_skills } : {}),
      ...(hb.available_skills !== undefined ? { availableSkills: hb.available_skills } : {}),
      ...(hb.supported_skills !== undefined ? { skills: hb.supported_skills } : {}),
      ...(hb.skills_hash !== undefined ? { skillsHash: hb.skills_hash } : {}),
      ...(hb.current_tasks !== undefined ? { currentTasks: hb.current_tasks } : {}),
    };
    const verdict = await core.store.heartbeat(id, update);
    // Unknown (expired, never registered, or the hub lost its state): 404 "Worker not found", the
    // answer on which every worker SDK registers again.
    if (verdict === undefined) {
      core.workers?.forget(id);
      throw workerNotFound(id);
    }
    // The record as this heartbeat left it is what this hub's next poll of the worker sees.
    core.workers?.put(verdict.worker);
    if (hb.supported_skills !== undefined) {
      const worker = { ...verdict.worker, skills: hb.supported_skills };
      const profile = profileOf(worker);
      if (profile !== verdict.worker.profile) {
        core.workers?.forget(id);
        // The same live worker with other skills: its leases stand (a restart would have registered).
        await core.store.register({ ...worker, profile, status: hb.status }, contractsOf(worker), { keepLeases: true });
      }
    }
    const response: HeartbeatResponse = { status: "ok" };
    if (hb.supported_skills === undefined && hb.skills_hash !== undefined && hb.skills_hash !== "") {
      // The stored hash is written with the stored skills, so an equal hash means the same
      // catalogue, an empty one included (asking a worker without skills for it again, as the
      // Python orchestrator does, only has it register again at every heartbeat).
      if (hb.skills_hash !== verdict.worker.skillsHash) response.require_full_sync = true;
    }
    if (verdict.cancel.length > 0) response.cancel_task_ids = verdict.cancel;
    if (verdict.released.length > 0) this.#hooks.released(verdict.released, "lease_unconfirmed", id);
    if (hb.status === WorkerStatus.OFFLINE) {
      const gone = await core.store.removeWorker(id);
      if (gone !== undefined) this.gone(gone, "offline");
    } else if (!core.settings.dispatchable.has(hb.status)) {
      this.#hooks.undispatchable(id);
    }
    return response;
  }

  async event(event: WorkerEventPayload, ctx: ListenerContext): Promise<EventResponse> {
    const core = this.#core;
    const id = await core.authenticate("event", ctx, event.worker_id);
    await core.verify("event", ctx, id);
    if (event.worker_id !== id) {
      const err = new AuthError("Immediate sender ID mismatch", { details: { reason: "sender_mismatch" } });
      core.refused("event", id, err);
      throw err;
    }
    await core.store.touch(id, core.settings.ttlMs);
    if (event.event_type === "progress") {
      const taskId = event.target_task_id ?? event.origin_task_id;
      const jobId = event.target_job_id ?? (taskId !== undefined ? jobIdOfTask(taskId) : undefined);
      if (jobId !== undefined) {
        const raw = event.payload.progress;
        const progress = typeof raw === "number" && Number.isFinite(raw) ? raw : 0;
        if (await core.store.progress(id, jobId, taskId, progress)) {
          const message = typeof event.payload.message === "string" ? event.payload.message : "";
          core.events.emit("task:progress", { jobId, ...(taskId !== undefined ? { taskId } : {}), workerId: id, progress, message });
        }
      }
    }
    return { status: "event_accepted" };
  }

  /** Reports a worker that went away and what became of its tasks. */
  gone(gone: WorkerGone, reason: string): void {
    const core = this.#core;
    this.#hooks.undispatchable(gone.workerId);
    if (gone.released.length > 0) this.#hooks.released(gone.released, "worker_lost", gone.workerId);
    // A worker that heartbeats less often than this hub expects is forgotten while it works (a
    // mismatched --heartbeat-interval): the line says what the hub expected, to make that findable.
    const silence = reason === "heartbeat_timeout" ? { silent_ms: core.settings.ttlMs, expected_heartbeat_ms: core.settings.heartbeatMs } : {};
    core.logger.warn({ worker_id: gone.workerId, reason, requeued: gone.released.length, ...silence }, "hub: worker gone");
    core.events.emit("worker:expired", { workerId: gone.workerId, requeued: gone.released.map((j) => j.jobId) });
  }
}

/** True for the verifier's refusal of a message it has already seen. */
export function isReplay(err: unknown): boolean {
  return err instanceof AuthError && err.details.reason === "replay";
}
