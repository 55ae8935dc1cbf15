/**
 * Conversion between hub records and their Redis form: job hashes (scalar fields plus opaque JSON
 * fields) and worker hashes (one JSON value per field).
 */
import type { TaskError } from "../../../generated/types.js";
import type { JobRecord, NewJob, QueueEntry, TaskState, WorkerRecord } from "../store.js";

/** An optional string argument of a script: `''` when absent, `'+' + value` when present. */
export function opt(value: string | number | undefined): string {
  return value === undefined ? "" : `+${value}`;
}

/** The JSON kept opaque in a job's `blob` field. */
interface Blob {
  params: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  trace?: JobRecord["trace"];
  parent?: JobRecord["parent"];
}

/** Script arguments 1..10 shared by submit and reject (see `CREATE` in scripts/jobs.ts). */
export function jobArgs(job: NewJob): string[] {
  // Redis scores and the scripts' arithmetic need real numbers; NaN would fail inside a script.
  if (!Number.isFinite(job.priority)) throw new TypeError(`job priority must be a finite number, got ${job.priority}`);
  if (job.deadline !== undefined && !Number.isFinite(job.deadline)) throw new TypeError(`job deadline must be a finite number, got ${job.deadline}`);
  if (!Number.isInteger(job.maxRetries) || job.maxRetries < 0) throw new TypeError(`job maxRetries must be a non-negative integer, got ${job.maxRetries}`);
  const blob: Blob = { params: job.params };
  if (job.metadata !== undefined) blob.metadata = job.metadata;
  if (job.trace !== undefined) blob.trace = job.trace;
  if (job.parent !== undefined) blob.parent = job.parent;
  return [
    job.jobId,
    job.type,
    job.queue,
    String(job.priority),
    opt(job.deadline),
    String(job.maxRetries),
    opt(job.owner),
    opt(job.idempotencyKey),
    JSON.stringify(blob),
    JSON.stringify(job.requirements),
  ];
}

/** A flat `HGETALL` answer as a map. */
export function pairs(flat: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  return m;
}

function num(v: string | undefined): number | undefined {
  return v === undefined ? undefined : Number(v);
}

/** A job hash (flat `HGETALL` answer) as a {@link JobRecord}. */
export function decodeJob(flat: readonly string[]): JobRecord {
  const f = pairs(flat);
  const blob = JSON.parse(f.get("blob") ?? "{}") as Blob;
  const job: JobRecord = {
    jobId: f.get("id")!,
    taskId: f.get("task")!,
    generation: Number(f.get("gen")),
    type: f.get("type")!,
    queue: f.get("queue")!,
    params: blob.params,
    requirements: JSON.parse(f.get("req") ?? "{}") as JobRecord["requirements"],
    priority: Number(f.get("prio")),
    maxRetries: Number(f.get("maxr")),
    attempts: Number(f.get("att")),
    state: f.get("state") as TaskState,
    seq: Number(f.get("seq")),
    submittedAt: Number(f.get("sub")),
  };
  const w = job as { -readonly [K in keyof JobRecord]: JobRecord[K] };
  const deadline = num(f.get("dl"));
  if (deadline !== undefined) w.deadline = deadline;
  if (blob.metadata !== undefined) w.metadata = blob.metadata;
  if (blob.trace !== undefined) w.trace = blob.trace;
  if (blob.parent !== undefined) w.parent = blob.parent;
  const owner = f.get("owner");
  if (owner !== undefined) w.owner = owner;
  const idem = f.get("idem");
  if (idem !== undefined) w.idempotencyKey = idem;
  const wid = f.get("wid");
  if (wid !== undefined) w.workerId = wid;
  const disp = num(f.get("disp"));
  if (disp !== undefined) w.dispatchedAt = disp;
  const lms = num(f.get("lms"));
  if (lms !== undefined) w.leaseMissingSince = lms;
  const fin = num(f.get("fin"));
  if (fin !== undefined) w.finishedAt = fin;
  const creq = num(f.get("creq"));
  if (creq !== undefined) w.cancelRequestedAt = creq;
  const endr = f.get("endr");
  if (endr !== undefined) w.endReason = endr as JobRecord["endReason"];
  const status = f.get("status");
  if (status !== undefined) w.status = status;
  const data = f.get("data");
  if (data !== undefined) w.data = JSON.parse(data) as Record<string, unknown>;
  const err = f.get("err");
  if (err !== undefined) w.error = JSON.parse(err) as TaskError;
  const rwid = f.get("rwid");
  if (rwid !== undefined) w.resultWorkerId = rwid;
  const stask = f.get("stask");
  if (stask !== undefined) {
    const fingerprint = f.get("sfp");
    w.settled = { taskId: stask, workerId: f.get("swid")!, transition: f.get("strans")!, ...(fingerprint !== undefined ? { fingerprint } : {}) };
  }
  const prog = num(f.get("prog"));
  if (prog !== undefined) w.progress = prog;
  return job;
}

/** A worker record as field/value pairs of JSON (undefined fields left out). */
export function encodeWorker(worker: WorkerRecord): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(worker)) {
    if (v !== undefined) out.push(k, JSON.stringify(v));
  }
  return out;
}

/** A worker hash (flat `HGETALL` answer) as a {@link WorkerRecord}; undefined when empty. */
export function decodeWorker(flat: readonly string[]): WorkerRecord | undefined {
  if (flat.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const key = flat[i]!;
    // Field names come from the hub's own records; refuse ones that would reach the prototype.
    if (key === "__proto__" || key === "constructor" || key === "prototype") continue;
    out[key] = JSON.parse(flat[i + 1]!);
  }
  return out as unknown as WorkerRecord;
}

/** A queue member (`<16-digit seq>:<jobId>`) and its score (-priority) as a {@link QueueEntry}. */
export function decodeQueueEntry(member: string, score: string): QueueEntry {
  const at = member.indexOf(":");
  const priority = -Number(score);
  return { jobId: member.slice(at + 1), seq: Number(member.slice(0, at)), priority: priority === 0 ? 0 : priority };
}
