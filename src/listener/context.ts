/**
 * Building the {@link ListenerContext} of a request from its headers, path and TLS socket.
 */
import type { IncomingMessage } from "node:http";
import type { JsonObject } from "../wire/json.js";
import { RecentMap } from "../recent.js";
import { certIdentityOf } from "./cert.js";
import type { ListenerContext } from "./types.js";

/** Poll-only context fields, parsed from the query (PROTOCOL.md 2.3). */
export interface PollFields {
  pollTimeout: number;
  availableSkills?: readonly string[];
  hotSkills?: readonly string[];
  /** Set only for the poll a result makes for its worker's next task: answer at once, never hold. */
  pollNoHold?: true;
}

/** Whether a result's query string asks for the worker's next task (`next=1`, an rxon extension). */
export function asksNextTask(query: string): boolean {
  return query.length > 6 && NEXT_PARAM.test(query);
}

const NEXT_PARAM = /[?&]next=1(?:&|$)/;

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === "" ? null : first;
}

/**
 * The context of a request; `pathId` (poll, heartbeat, WebSocket) wins over `X-Worker-ID`. Its
 * `signal` is `aborts.signal`, read only when the handler reads it (a signal costs to make).
 */
export function buildContext(
  req: IncomingMessage,
  pathId: string | null,
  aborts: { readonly signal: AbortSignal },
  rawBody: JsonObject | null,
  extra?: PollFields | { verifiedWorkerId: string },
): ListenerContext {
  return new RequestContext(req, pathId, aborts, rawBody, extra);
}

/** The poll fields {@link RequestContext} copies; a field added to PollFields fails to compile until it is copied too. */
type CopiedPollField = "pollTimeout" | "availableSkills" | "hotSkills" | "pollNoHold";
const everyPollFieldCopied: [keyof PollFields] extends [CopiedPollField] ? true : never = true;
void everyPollFieldCopied;

/**
 * One shape for every request's context (fields that do not apply are undefined), so the code
 * that reads contexts sees a single object layout.
 */
class RequestContext implements ListenerContext {
  readonly token: string | null;
  readonly workerIdHint: string | null;
  readonly protocolVersion: string | null;
  readonly certIdentity: ListenerContext["certIdentity"];
  readonly transport = "http" as const;
  readonly rawRequest: IncomingMessage;
  readonly rawBody: JsonObject | null;
  readonly pollTimeout: number | undefined;
  readonly availableSkills: readonly string[] | undefined;
  readonly hotSkills: readonly string[] | undefined;
  readonly pollNoHold: true | undefined;
  readonly verifiedWorkerId: string | undefined;
  readonly #aborts: { readonly signal: AbortSignal };

  constructor(req: IncomingMessage, pathId: string | null, aborts: { readonly signal: AbortSignal }, rawBody: JsonObject | null, extra: Partial<PollFields & { verifiedWorkerId: string }> | undefined) {
    this.token = header(req, "x-worker-token");
    this.workerIdHint = pathId ?? header(req, "x-worker-id");
    this.protocolVersion = header(req, "x-rxon-version");
    this.certIdentity = certIdentityOf(req.socket);
    this.rawRequest = req;
    this.rawBody = rawBody;
    this.pollTimeout = extra?.pollTimeout;
    this.availableSkills = extra?.availableSkills;
    this.hotSkills = extra?.hotSkills;
    this.pollNoHold = extra?.pollNoHold;
    this.verifiedWorkerId = extra?.verifiedWorkerId;
    this.#aborts = aborts;
  }

  get signal(): AbortSignal {
    return this.#aborts.signal;
  }
}

function list(value: string): string[] {
  const items: string[] = [];
  for (const part of value.split(",")) {
    const item = part.trim();
    if (item !== "") items.push(item);
  }
  return items;
}

/**
 * `timeout` as a float (absent, unparseable, negative or infinite → 0); `available_skills` and
 * `hot_skills` split on commas, trimmed, empty items dropped, present only when the parameter is.
 * The answer is frozen: the fields of a query string seen lately are shared, not parsed again.
 */
export function parsePollQuery(query: string): PollFields {
  // A worker sends the same query poll after poll: parsed once while it stays among the recent ones.
  const known = recentQueries.get(query);
  if (known !== undefined) return known;
  const fields = parseQuery(query);
  if (query.length <= MAX_CACHED_QUERY) recentQueries.set(query, fields);
  return fields;
}

/** Poll fields of recently seen query strings (frozen: shared by every request that sent one). */
const MAX_CACHED_QUERIES = 256;
const recentQueries = new RecentMap<string, PollFields>(MAX_CACHED_QUERIES);
const MAX_CACHED_QUERY = 512;

function parseQuery(query: string): PollFields {
  const params = new URLSearchParams(query);
  const timeoutText = params.get("timeout");
  const timeout = timeoutText === null || timeoutText.trim() === "" ? 0 : Number(timeoutText.trim());
  const fields: PollFields = { pollTimeout: Number.isFinite(timeout) && timeout > 0 ? timeout : 0 };
  const available = params.get("available_skills");
  if (available !== null) fields.availableSkills = Object.freeze(list(available));
  const hot = params.get("hot_skills");
  if (hot !== null) fields.hotSkills = Object.freeze(list(hot));
  return Object.freeze(fields);
}
