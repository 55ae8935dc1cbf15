/**
 * Loggers that add fixed fields (worker id, task id) to every entry, for any pino-compatible
 * logger: a pino child would do the same, but rxon only assumes the four methods.
 */
import type { LogMethod, Logger } from "../logger.js";

/** A logger writing through `logger` with `fields` merged under each entry's own fields. */
export function withFields(logger: Logger, fields: Readonly<Record<string, unknown>>): Logger {
  const method =
    (name: keyof Logger): LogMethod =>
    (fieldsOrMessage, message) => {
      if (typeof fieldsOrMessage === "string") logger[name]({ ...fields }, fieldsOrMessage);
      else logger[name]({ ...fields, ...fieldsOrMessage }, message);
    };
  return { debug: method("debug"), info: method("info"), warn: method("warn"), error: method("error") };
}
