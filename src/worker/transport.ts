/**
 * The worker's transport: the injected one, or one made by `createTransport` from the URL and
 * credentials in the options.
 */
import { ValidationError } from "../errors.js";
import type { Logger } from "../logger.js";
import { createTransport } from "../transport/factory.js";
import type { TransportOptions } from "../transport/options.js";
import type { WorkerTransport } from "../transport/types.js";
import type { WorkerOptions } from "./types.js";

/** Returns `options.transport`, or a transport for `options.url`; throws a ValidationError if neither fits. */
export function openTransport(options: WorkerOptions, logger: Logger): WorkerTransport {
  if (options.transport !== undefined) {
    if (options.transport.workerId !== options.workerId) {
      throw new ValidationError(`transport speaks for '${options.transport.workerId}', not for worker '${options.workerId}'`, [{ path: "/transport/workerId", message: "must equal workerId" }]);
    }
    return options.transport;
  }
  if (typeof options.url !== "string") {
    throw new ValidationError("a worker needs `url` or `transport`", [{ path: "/url", message: "required when no transport is given" }]);
  }
  // One clock for the worker: message stamps and task deadlines are read on the same one.
  const transportOptions: TransportOptions = { logger, ...(options.clock !== undefined ? { clock: () => options.clock!.now() } : {}), ...options.transportOptions };
  if (options.secret !== undefined) transportOptions.secret = options.secret;
  if (options.ed25519Key !== undefined) transportOptions.ed25519Key = options.ed25519Key;
  // Like the Python worker SDK, a worker signs with its long-term token unless told otherwise.
  if (transportOptions.secret === undefined && transportOptions.ed25519Key === undefined && options.token) {
    transportOptions.secret = options.token;
  }
  return createTransport(options.url, options.workerId, options.token ?? "", transportOptions);
}
