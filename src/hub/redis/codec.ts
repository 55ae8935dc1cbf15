/**
 * Conversion between hub records and their Redis form: job hashes (the scalars as one JSON object
 * in field `s`, plus opaque JSON fields) and worker hashes (one JSON value per field).
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

/** The fields of a job hash (see the layout in scripts/prelude.ts). */
export interface JobFields {
  /** Scalars: one JSON object, every value a string. */
  s?: string;
  blob?: string;
  req?: string;
  data?: string;
  err?: string;
  prog?: string;
}

/** Scalars of a job as the scripts write them (`s`). */
interface Scalars {
  id: string;
  type: string;
  queue: string;
  prio: string;
  maxr: string;
  task: string;
  gen: string;
  att: string;
  state: TaskState;
  seq: string;
  sub: string;
  dl?: string;
  owner?: string;
  idem?: string;
  wid?: string;
  disp?: string;
  lms?: string;
  fin?: string;
  creq?: string;
  endr?: JobRecord["endReason"];
  status?: string;
  rwid?: string;
  stask?: string;
  swid?: string;
  strans?: string;
  sfp?: string;
}

/** A flat `HGETALL` answer (as scripts return it) as {@link JobFields}; only the known fields are kept. */
export function jobFields(flat: readonly string[]): JobFields {
  const f: JobFields = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i];
    if (name === "s" || name === "blob" || name === "req" || name === "data" || name === "err" || name === "prog") f[name] = flat[i + 1]!;
  }
  return f;
}

/** A job hash (flat `HGETALL` answer, as scripts return it) as a {@link JobRecord}. */
export function decodeJob(flat: readonly string[]): JobRecord {
  const job = decodeJobFields(jobFields(flat));
  if (job === undefined) throw new Error("RedisStore: a script answered a job without its fields");
  return job;
}

/** A job hash as a {@link JobRecord}; undefined when it has no scalars (no such job). */
export function decodeJobFields(f: JobFields): JobRecord | undefined {
  if (f.s === undefined) return undefined;
  const v = JSON.parse(f.s) as Scalars;
  const blob = JSON.parse(f.blob ?? '{"params":{}}') as Blob;
  const job: JobRecord = {
    jobId: v.id,
    taskId: v.task,
    generation: Number(v.gen),
    type: v.type,
    queue: v.queue,
    params: blob.params,
    requirements: JSON.parse(f.req ?? "{}") as JobRecord["requirements"],
    priority: Number(v.prio),
    maxRetries: Number(v.maxr),
    attempts: Number(v.att),
    state: v.state,
    seq: Number(v.seq),
    submittedAt: Number(v.sub),
  };
  const w = job as { -readonly [K in keyof JobRecord]: JobRecord[K] };
  if (v.dl !== undefined) w.deadline = Number(v.dl);
  if (blob.metadata !== undefined) w.metadata = blob.metadata;
  if (blob.trace !== undefined) w.trace = blob.trace;
  if (blob.parent !== undefined) w.parent = blob.parent;
  if (v.owner !== undefined) w.owner = v.owner;
  if (v.idem !== undefined) w.idempotencyKey = v.idem;
  if (v.wid !== undefined) w.workerId = v.wid;
  if (v.disp !== undefined) w.dispatchedAt = Number(v.disp);
  if (v.lms !== undefined) w.leaseMissingSince = Number(v.lms);
  if (v.fin !== undefined) w.finishedAt = Number(v.fin);
  if (v.creq !== undefined) w.cancelRequestedAt = Number(v.creq);
  if (v.endr !== undefined) w.endReason = v.endr;
  if (v.status !== undefined) w.status = v.status;
  if (f.data !== undefined) w.data = JSON.parse(f.data) as Record<string, unknown>;
  if (f.err !== undefined) w.error = JSON.parse(f.err) as TaskError;
  if (v.rwid !== undefined) w.resultWorkerId = v.rwid;
  if (v.stask !== undefined) {
    w.settled = { taskId: v.stask, workerId: v.swid!, transition: v.strans!, ...(v.sfp !== undefined ? { fingerprint: v.sfp } : {}) };
  }
  if (f.prog !== undefined) w.progress = Number(f.prog);
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

/** A worker hash as ioredis `hgetall` answers it (an object) as a {@link WorkerRecord}; undefined when empty. */
export function decodeWorkerHash(hash: Record<string, string>): WorkerRecord | undefined {
  const out: Record<string, unknown> = {};
  let any = false;
  for (const key of Object.keys(hash)) {
    any = true;
    // Field names come from the hub's own records; refuse ones that would reach the prototype.
    if (key === "__proto__" || key === "constructor" || key === "prototype") continue;
    out[key] = JSON.parse(hash[key]!);
  }
  return any ? (out as unknown as WorkerRecord) : undefined;
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
