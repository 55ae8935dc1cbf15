/**
 * A finished task's result must outlive a short outage in which the orchestrator cannot be reached
 * at all (connection refused or reset: a hub restarting, a load balancer failing over). Before,
 * network errors used up the result's few attempts in about 7 s and the result was dropped, so
 * the hub re-ran the whole task once its lease expired.
 */
import { expect, it } from "vitest";
import { NetworkError } from "../../src/errors.js";
import { recordingClock, startedWorkers, task } from "../worker/helpers.js";

const started = startedWorkers();

it("network errors (orchestrator unreachable) do not use up a result's attempts; it is delivered when it is back", async () => {
  const clock = recordingClock(0.001);
  const { worker, mock } = await started({ clock });
  // Six failed sends (each already 3 transport attempts): a ~15 s outage with connection refused.
  for (let i = 0; i < 6; i++) mock.failNext("result", new NetworkError("Network error during POST /_worker/tasks/result: connect ECONNREFUSED"));
  mock.pushTask(task("add", { a: 2, b: 3 }));
  await mock.waitFor(() => mock.results.length === 1 || worker.stats.lost > 0, { timeoutMs: 10_000 });
  expect(worker.stats).toMatchObject({ succeeded: 1, lost: 0 });
  expect(mock.results[0]).toMatchObject({ status: "success", data: { sum: 5 } });
  // Still bounded: an orchestrator gone for good makes the result count as lost in the end.
  for (let i = 0; i < 30; i++) mock.failNext("result", new NetworkError("connect ECONNREFUSED"));
  mock.pushTask(task("add", { a: 1, b: 1 }));
  await mock.waitFor(() => worker.stats.lost === 1, { timeoutMs: 20_000 });
});
