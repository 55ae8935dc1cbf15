/**
 * The reference hub: an orchestrator on top of the listener, composed of rooms over one store.
 *
 * - {@link Registry}: registration, heartbeats (lease reconciliation, cancels in the reply), events;
 * - {@link Dispatcher}: polls, held polls, claims;
 * - {@link Results}: results applied to their jobs;
 * - {@link Cancellation}: cancels and WebSocket command channels;
 * - {@link Submissions}: tasks checked and queued; {@link SkillCalls}: `POST /skills/call`;
 * - {@link Sweeper}: expiry, deadlines, cancel grace, retention;
 * - {@link Outcomes}: handles and `task:completed`.
 *
 * Every state change is one atomic transition of the {@link HubStore}; what stays in this process
 * is only what cannot be shared anyway: held polls, open WebSocket channels and result promises.
 * Several hubs on one shared store (e.g. `RedisStore`) serve one fleet; the store's signals wake
 * polls and carry cancels between them.
 */
import { EventEmitter } from "node:events";
import type { TaskPayload, TokenRefreshRequest, TokenResponse } from "../../generated/types.js";
import { AuthError, ValidationError } from "../errors.js";
import type { HandlerArgs, ListenerContext } from "../listener/types.js";
import { silentLogger } from "../logger.js";
import { Cancellation } from "./cancellation.js";
import { ClientApi } from "./client-api.js";
import { HubCore } from "./core.js";
import { Dashboard } from "./dashboard/dashboard.js";
import { hubDashboardSource } from "./dashboard/source.js";
import { Dispatcher } from "./dispatcher.js";
import { hubReadiness } from "./health.js";
import { MemoryStore } from "./memory-store.js";
import { Outcomes } from "./outcomes.js";
import { Registry } from "./registry.js";
import { Results } from "./results.js";
import { serve, type HubServer } from "./server.js";
import { SkillCalls } from "./skill-calls.js";
import type { HubSignal, HubStore, JobRecord } from "./store.js";
import { Submissions } from "./submission.js";
import { Sweeper } from "./sweeper.js";
import type { ListenOptions } from "./listen-options.js";
import type { HubEvents, HubOptions, HubStats, SubmitOptions, TaskHandle } from "./types.js";

/** The reference orchestrator. Use {@link Hub.handler} with a listener, or {@link Hub.listen}. */
export class Hub extends EventEmitter<HubEvents> {
  /** Where state lives. */
  readonly store: HubStore;
  readonly logger: HubCore["logger"];
  /**
   * The HTTP client API (`/_client/tasks`: submit, status, wait, cancel), enabled by
   * `clientTokens`. `hub.listen()` mounts it; in your own server call `clientApi.handle(req, res)`.
   */
  readonly clientApi: ClientApi;
  /** `POST /skills/call`; `hub.listen()` mounts it; in your own server call `skillCalls.handle(req, res)`. */
  readonly skillCalls: SkillCalls;
  /** The live dashboard (`/_dashboard`), enabled by the `dashboard` option; `hub.listen()` mounts it. */
  readonly dashboard: Dashboard;
  readonly #core: HubCore;
  readonly #outcomes: Outcomes;
  readonly #registry: Registry;
  readonly #dispatcher: Dispatcher;
  readonly #results: Results;
  readonly #cancellation: Cancellation;
  readonly #submissions: Submissions;
  readonly #sweeper: Sweeper;
  readonly #servers: HubServer[] = [];
  readonly #unsubscribe: () => void;

  constructor(options: HubOptions = {}) {
    super();
    this.store = options.store ?? new MemoryStore(options.now !== undefined ? { now: options.now } : {});
    this.logger = options.logger ?? silentLogger;
    const core = new HubCore(this.store, options, this, this.logger);
    this.#core = core;
    const s = core.settings;
    this.store.configure({ retentionMs: s.retentionMs, maxRetained: s.maxRetained, cancelGraceMs: s.cancelGraceMs });
    this.#outcomes = new Outcomes(core);
    this.#outcomes.cancel = (jobId) => this.cancel(jobId);
    this.#dispatcher = new Dispatcher(core, this.#outcomes);
    this.#registry = new Registry(core, {
      released: (jobs, reason, workerId) => this.#released(jobs, reason, workerId),
      undispatchable: (workerId) => this.#dispatcher.releaseWorker(workerId),
    });
    this.#results = new Results(core, this.#outcomes);
    this.#cancellation = new Cancellation(core, this.#outcomes);
    this.#submissions = new Submissions(core, this.#outcomes);
    this.#submissions.onQueue = (job, paramsSize) => this.#dispatcher.learnJob(job, paramsSize);
    this.#submissions.handOff = (job) => this.#dispatcher.reserve(job);
    this.skillCalls = new SkillCalls(core, this.#submissions, this.#cancellation);
    this.#sweeper = new Sweeper(core, this.#registry, this.#dispatcher, this.#outcomes);
    this.clientApi = new ClientApi(
      { submit: (o) => this.#submissions.submit(o, undefined, false), cancel: (jobId, owner) => this.#cancellation.cancel(jobId, owner), store: this.store, watch: (jobId, wake) => this.#outcomes.watch(jobId, wake), endMark: () => this.#outcomes.endMark(), seesEndsSince: (mark) => this.#outcomes.seesEndsSince(mark) },
      { ...options.clientApi, ...(options.clientTokens !== undefined ? { tokens: options.clientTokens } : {}), logger: this.logger },
    );
    const dash = options.dashboard === true ? {} : options.dashboard === false ? undefined : options.dashboard;
    const admins = (options.clientTokens ?? []).flatMap((t) => (typeof t !== "string" && t.scope === "admin" ? [t.token] : []));
    this.dashboard = new Dashboard(hubDashboardSource(this, { dispatchableStatuses: [...s.dispatchable] }), {
      ...dash,
      adminTokens: dash === undefined ? [] : (dash.adminTokens ?? admins),
      logger: this.logger,
    });
    this.#unsubscribe = this.store.subscribe((signal) => this.#onSignal(signal));
    this.#sweeper.start();
    this.#warnOfStoreSettings();
  }

  /** Logs the store's warnings about its server's settings, once; a store that cannot answer now is the sweeps' to report. */
  #warnOfStoreSettings(): void {
    this.store
      .settingsWarnings?.()
      .then((warnings) => {
        for (const w of warnings) this.logger.warn({}, `hub: ${w}`);
      })
      .catch(() => undefined);
  }

  /** True once `close()` was called. */
  get closing(): boolean {
    return this.#core.closed;
  }

  /** True when no credentials are configured (anyone may act as any worker). */
  get insecure(): boolean {
    return this.#core.auth.open;
  }

  /** The listener handler: pass it to `new RxonListener({ handler: hub.handler })`. */
  readonly handler = (...args: HandlerArgs): Promise<unknown> => this.#handle(args);

  /**
   * For the listener's `onUndelivered`: a task whose poll answer did not reach its worker goes
   * back to the queue at once. `hub.listen()` wires it.
   */
  readonly undelivered = (_workerId: string, task: unknown): void => {
    const t = task as Partial<TaskPayload> | null;
    if (t === null || typeof t.job_id !== "string" || typeof t.task_id !== "string") return;
    this.#core.background("release", () => this.#dispatcher.release({ jobId: t.job_id!, taskId: t.task_id! }, "undelivered"));
  };

  // ---------------------------------------------------------------- client API

  /**
   * Checks and queues a task. Rejects with a `ValidationError` for input the wire cannot carry
   * (with JSON pointers), a `RateLimitError` past the queue limits; a repeated `idempotencyKey`
   * answers the job the first submission created.
   */
  submit(options: SubmitOptions): Promise<TaskHandle> {
    return this.#submissions.submit(options);
  }

  /** Cancels a job: a queued one ends at once, a running one is told to stop. */
  async cancel(jobId: string): Promise<void> {
    await this.#cancellation.cancel(jobId);
  }

  /** Stops (or resumes) dispatching to a worker; its running tasks go on. False when it is unknown. */
  async drainWorker(workerId: string, drained = true): Promise<boolean> {
    const done = await this.store.drain(workerId, drained);
    this.#core.workers?.forget(workerId);
    return done;
  }

  /** Counters and gauges. */
  async stats(): Promise<HubStats> {
    const [workers, queued, running] = await Promise.all([this.store.countWorkers(), this.store.queueLength(), this.store.runningCount()]);
    return { ...this.#core.counters, workers, queued, running, waitingPolls: this.#dispatcher.parked };
  }

  /** Serves the hub over HTTP (or HTTPS with `tls`); resolves with the URL once listening. */
  async listen(options: ListenOptions = {}): Promise<HubServer> {
    if (this.#core.closed) throw new ValidationError("Hub is closed");
    const core = this.#core;
    // /readyz checks the store (and that the hub is not closing) unless told otherwise.
    const server = await serve(this.handler, { ready: hubReadiness(this), ...options }, this.logger, [this.clientApi, this.skillCalls, this.dashboard], {
      onUndelivered: this.undelivered,
      // Strangers are refused before their bodies are read or decoded.
      authenticate: async (action, ctx) => {
        try {
          return await core.auth.preAuthenticate(action, ctx);
        } catch (err) {
          core.refused(action, ctx.workerIdHint, err);
          throw err;
        }
      },
    });
    this.#servers.push(server);
    return server;
  }

  /** One housekeeping pass (normally periodic). */
  sweep(): Promise<void> {
    return this.#sweeper.sweep();
  }

  /**
   * Stops servers and timers, ends held polls and command channels. Client requests held by
   * `?wait=` are answered with their job's state so far first (202 or 200 with the job's view,
   * within 2 s). Jobs stay in the store (a shared store keeps serving them through other hubs);
   * handles of this process resolve as transient failures.
   */
  async close(): Promise<void> {
    const core = this.#core;
    if (core.closed) return;
    core.closed = true;
    this.#sweeper.stop();
    this.#dispatcher.close();
    this.dashboard.close();
    // Held client waits answer the job's state so far before their connections close.
    await this.clientApi.close();
    await Promise.all(this.#servers.splice(0).map((s) => s.close()));
    this.#dispatcher.close();
    this.#cancellation.close();
    this.#unsubscribe();
    this.#outcomes.closeAll();
  }

  /** Closes the hub (`await using hub = new Hub()`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------- internals

  async #handle(args: HandlerArgs): Promise<unknown> {
    switch (args[0]) {
      case "register":
        return this.#registry.register(args[1], args[2]);
      case "poll":
        return this.#dispatcher.poll(args[1], args[2]);
      case "result":
        return this.#results.result(args[1], args[2]);
      case "heartbeat":
        return this.#registry.heartbeat(args[1], args[2]);
      case "event":
        return this.#registry.event(args[1], args[2]);
      case "sts_token":
        return this.#stsToken(args[2]);
      case "sts_refresh":
        return this.#stsRefresh(args[1], args[2]);
      case "websocket_auth":
        await this.#core.authenticate("websocket_auth", args[2]);
        return true;
      case "websocket":
        return this.#cancellation.websocket(args[1]);
    }
  }

  #onSignal(signal: HubSignal): void {
    switch (signal.type) {
      case "queued":
        this.#dispatcher.onQueued(signal.queue, signal.skill);
        return;
      case "ended":
        this.#core.background("outcome", () => this.#outcomes.ended(signal));
        return;
      case "cancel":
        this.#cancellation.onCancel(signal.workerId, signal.jobId, signal.taskId);
        return;
      case "worker":
        this.#dispatcher.releaseWorker(signal.workerId);
        return;
      case "resync":
        // Ends and queued tasks signalled while the signal connection was down were not heard.
        this.#core.background("resync", () => this.#outcomes.resync());
        this.#core.background("resync", () => this.#dispatcher.recheck());
        return;
    }
  }

  /** Jobs a transition gave back (lease loss, worker gone): announce each. */
  #released(jobs: readonly JobRecord[], reason: string, workerId: string): void {
    for (const job of jobs) {
      if (job.state === "waiting_for_worker") {
        this.#core.counters.retried++;
        this.#outcomes.observe(job);
        this.emit("task:requeued", { jobId: job.jobId, taskId: job.taskId, workerId, reason });
      } else {
        this.#outcomes.completed(job);
      }
    }
  }

  async #stsToken(ctx: ListenerContext): Promise<TokenResponse> {
    // Only a long-term credential (or a certificate) mints: an access token cannot renew itself.
    let id: string;
    try {
      id = await this.#core.auth.authenticateLongTerm(ctx);
    } catch (err) {
      this.#core.refused("sts_token", ctx.workerIdHint, err);
      throw err;
    }
    return this.#core.auth.issue(id);
  }

  async #stsRefresh(body: TokenRefreshRequest, ctx: ListenerContext): Promise<TokenResponse> {
    try {
      return await this.#core.auth.refresh(body.refresh_token, ctx.workerIdHint ?? body.worker_id ?? null);
    } catch (err) {
      if (err instanceof AuthError) this.#core.refused("sts_refresh", ctx.workerIdHint ?? body.worker_id ?? null, err);
      throw err;
    }
  }
}
