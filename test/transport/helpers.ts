/** Shared bits of the transport tests. */
export { memoryLogger, type LogEntry } from "../helpers/logger.js";

export const task = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  job_id: `job-${id}`,
  task_id: `task-${id}`,
  type: "echo",
  params: { n: 1 },
  ...extra,
});

export const result = (id: string): { job_id: string; task_id: string; worker_id: string; status: string; data: Record<string, unknown> } => ({
  job_id: `job-${id}`,
  task_id: `task-${id}`,
  worker_id: "w1",
  status: "success",
  data: { id },
});
