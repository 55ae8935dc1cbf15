/** Options of the dashboard (a leaf file: the hub's option types import it). */
import type { Logger } from "../../logger.js";

/** Options of the dashboard. */
export interface DashboardOptions {
  /** `X-Client-Token` values with admin rights on the dashboard. None: the dashboard is off (404). */
  adminTokens: readonly string[];
  /** Jobs remembered for search and timelines. Default 200 000. */
  maxJobs?: number;
  /** Period of queue-depth samples, ms. Default 5000 (with 120 samples kept: 10 minutes). */
  depthSampleMs?: number;
  /** Period of the live stream's summaries, ms. Default 1000. */
  streamIntervalMs?: number;
  /** Live streams open at once. Default 100. */
  maxStreams?: number;
  /** Queued-task records read from the store per queues refresh (blocked-task analysis). Default 5000. */
  analysisReadBudget?: number;
  /** Logger. Default silent. */
  logger?: Logger;
  /** Clock, epoch ms (tests). */
  now?: () => number;
}
