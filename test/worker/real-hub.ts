/**
 * A real hub on 127.0.0.1 port 0 with a real worker connected to it over HTTP and the WebSocket
 * command channel; both are closed after each test of the file that calls {@link realHubs}.
 */
import { afterEach } from "vitest";
import { Hub, type HubOptions } from "../../src/hub/index.js";
import { Worker, type WorkerOptions, type WorkerSkill } from "../../src/worker/index.js";
import { memoryLogger } from "../helpers/logger.js";

const TOKEN = "secret-w-1";

/** What {@link realHubs}' start function gives. */
export interface RealHub {
  hub: Hub;
  worker: Worker;
  url: string;
  /** Everything the worker logged. */
  log: ReturnType<typeof memoryLogger>;
}

/** A function that starts a hub and a worker `w-1` with `skills`, stopped after each test. */
export function realHubs(): (skills: WorkerSkill[], options?: { hub?: HubOptions; worker?: Partial<WorkerOptions> }) => Promise<RealHub> {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return async (skills, options = {}) => {
    const hub = new Hub({ auth: { tokens: { "w-1": TOKEN } }, heartbeatIntervalMs: 1000, ...options.hub });
    cleanups.push(() => hub.close());
    const { url } = await hub.listen({ port: 0 });
    const log = memoryLogger();
    const worker = new Worker({ url, workerId: "w-1", token: TOKEN, skills, heartbeatIntervalMs: 1000, logger: log, ...options.worker });
    cleanups.push(() => worker.stop({ graceMs: 0 }));
    await worker.start();
    return { hub, worker, url, log };
  };
}
