// The four pages (fleet, queues, tasks, throughput) and one task's detail. Each page fetches
// its data from the API (paginated and aggregated by the hub) and refreshes when the live
// stream says something changed.

import { api, ApiError } from "./api.js";
import { bar, lineChart, PALETTE } from "./charts.js";
import { ago, clock, duration, fill, h, pager, short } from "./dom.js";

const TERMINAL = new Set(["finished", "failed", "cancelled"]);

/** A page over tasks: `run` again when the stream's task version moves (not on every summary). */
function onTaskChanges(el, run) {
  let version = -1;
  return {
    el,
    refresh: () => run(true),
    onSummary: (s) => {
      if (s.taskVersion !== version) {
        version = s.taskVersion;
        void run(false);
      }
    },
  };
}

/**
 * Runs `load` at most once at a time and, when the stream asks, at most every `minMs`; a request
 * that comes too early or while loading is not lost: one trailing run follows.
 */
function refresher(load, minMs) {
  let busy = false;
  let last = 0;
  let trailing = null;
  const run = async (force) => {
    const wait = force ? 0 : last + minMs - Date.now();
    if (busy || wait > 0) {
      if (trailing === null) {
        trailing = setTimeout(() => {
          trailing = null;
          void run(true);
        }, Math.max(wait, 50));
      }
      return;
    }
    busy = true;
    try {
      await load();
    } catch (err) {
      if (!(err instanceof ApiError && (err.status === 401 || err.status === 403))) console.warn("dashboard:", err);
    } finally {
      last = Date.now();
      busy = false;
    }
  };
  return run;
}

function stat(id, label, value) {
  return h("div", { class: "stat" }, h("div", { class: "stat-value", id }, String(value)), h("div", { class: "stat-label" }, label));
}

async function confirmAndPost(question, path) {
  if (!window.confirm(question)) return false;
  await api(path, "POST");
  return true;
}

// ------------------------------------------------------------------ fleet

export function fleetPage(ctx) {
  const state = { offset: 0, limit: 50, q: "", status: "", skill: "" };
  const head = h("div", { class: "stats" });
  const table = h("div", { class: "table-wrap" });
  const q = h("input", { type: "search", placeholder: "worker id contains…", id: "fleet-q" });
  const status = h("input", { type: "search", placeholder: "status", id: "fleet-status", size: 10 });
  const skill = h("input", { type: "search", placeholder: "skill", id: "fleet-skill", size: 12 });
  const form = h(
    "form",
    {
      class: "toolbar",
      onsubmit: (e) => {
        e.preventDefault();
        Object.assign(state, { offset: 0, q: q.value.trim(), status: status.value.trim(), skill: skill.value.trim() });
        void run(true);
      },
    },
    q,
    status,
    skill,
    h("button", { type: "submit" }, "Filter"),
  );
  const el = h("section", { class: "page", id: "page-fleet" }, h("h2", {}, "Fleet"), head, form, table);

  const load = async () => {
    const p = new URLSearchParams({ offset: state.offset, limit: state.limit });
    for (const k of ["q", "status", "skill"]) if (state[k]) p.set(k, state[k]);
    const page = await api(`workers?${p}`);
    const now = Date.now();
    fill(
      head,
      stat("fleet-total", "workers registered", page.fleetSize),
      stat("fleet-matching", "matching the filter", page.total),
      Object.entries(page.byStatus).map(([k, n]) => stat(`fleet-status-${k}`, k, n)),
    );
    const rows = page.items.map((w) =>
      h(
        "tr",
        { "data-worker-id": w.id },
        h("td", { class: "mono id" }, w.id, h("div", { class: "sub" }, w.workerType)),
        h("td", {}, h("span", { class: `pill st-${w.status}` }, w.status)),
        h("td", { class: "skills" }, w.skills.map((s) => h("span", { class: "chip" }, `${s.name} ${s.version}`))),
        h(
          "td",
          { class: "devices" },
          w.devices.length === 0 ? h("span", { class: "muted" }, "no devices") : null,
          w.devices.map((d) =>
            h(
              "div",
              { class: "device", "data-device-id": d.id ?? "" },
              h("div", {}, h("b", {}, d.type), " ", d.model ?? "", d.id ? h("span", { class: "muted" }, ` (${d.id})`) : null),
              h("div", { class: "sub" }, short(d.properties)),
              d.usage ? h("div", { class: "usage" }, bar(d.usage.load, "load"), h("span", { class: "sub" }, short(d.usage.metrics))) : null,
            ),
          ),
        ),
        h(
          "td",
          { class: "host" },
          w.usage ? [bar(w.usage.cpu, "cpu"), h("div", { class: "sub" }, w.usage.ramGb === null ? "" : `ram ${w.usage.ramGb} GB`)] : h("span", { class: "muted" }, "no heartbeat yet"),
        ),
        h("td", { class: "seen", title: clock(w.lastSeenAt) }, ago(w.lastSeenAt, now)),
        h("td", { class: "running num" }, String(w.running)),
        h(
          "td",
          {},
          h(
            "button",
            {
              type: "button",
              class: "danger small drain",
              disabled: !ctx.summary()?.canDrain || w.status === "draining",
              title: ctx.summary()?.canDrain ? "Stop dispatching to this worker" : "This hub cannot drain workers",
              onclick: async () => {
                if (await confirmAndPost(`Drain worker ${w.id}? The hub stops dispatching to it.`, `workers/${encodeURIComponent(w.id)}/drain`)) void run(true);
              },
            },
            "Drain",
          ),
        ),
      ),
    );
    fill(
      table,
      h(
        "table",
        { id: "fleet-table" },
        h("thead", {}, h("tr", {}, ["worker", "status", "skills", "devices & live usage", "host", "last seen", "running", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows),
      ),
      pager(page, (offset) => {
        state.offset = offset;
        void run(true);
      }),
    );
  };
  const run = refresher(load, 2000);
  return { el, refresh: () => run(true), onSummary: () => run(false) };
}

// ------------------------------------------------------------------ queues

export function queuesPage() {
  const head = h("div", { class: "stats" });
  const chart = h("div", {});
  const queues = h("div", { class: "table-wrap" });
  const blocked = h("div", { class: "table-wrap" });
  const el = h(
    "section",
    { class: "page", id: "page-queues" },
    h("h2", {}, "Queues"),
    head,
    chart,
    h("h3", {}, "Depth per skill"),
    queues,
    h("h3", {}, "Tasks no connected worker can run"),
    blocked,
  );
  const load = async () => {
    const v = await api("queues");
    const now = Date.now();
    fill(head, stat("queues-total", "tasks queued", v.total), stat("queues-count", "queues", v.queues.length + v.moreQueues), stat("blocked-total", "cannot run now", v.blocked.total));
    const skills = [...new Set(v.history.flatMap((s) => Object.keys(s.depths)))].slice(0, PALETTE.length);
    fill(
      chart,
      lineChart(
        skills.map((skill, i) => ({ name: skill, cls: PALETTE[i], points: v.history.map((s) => [s.t, s.depths[skill] ?? 0]) })),
        { title: "Queue depth over time", width: 1280, height: 220 },
      ),
    );
    fill(
      queues,
      h(
        "table",
        { id: "queues-table" },
        h("thead", {}, h("tr", {}, ["skill", "queued", "oldest waiting", "workers offering it", "cannot run"].map((t) => h("th", {}, t)))),
        h(
          "tbody",
          {},
          v.queues.map((q) =>
            h(
              "tr",
              { "data-skill": q.skill },
              h("td", { class: "mono" }, q.skill),
              h("td", { class: "depth num" }, String(q.depth)),
              h("td", { class: "oldest" }, q.oldest ? [h("a", { href: `#task/${q.oldest.jobId}`, class: "mono" }, q.oldest.jobId), " ", h("span", { class: "muted" }, `waiting ${duration(now - q.oldest.since)}`)] : "–"),
              h("td", { class: "workers num" }, String(q.workers)),
              h("td", { class: "blocked num" }, String(q.blocked)),
            ),
          ),
        ),
      ),
      v.moreQueues > 0 ? h("p", { class: "muted" }, `${v.moreQueues} smaller queues not shown.`) : null,
    );
    fill(
      blocked,
      v.blocked.groups.length === 0 ? h("p", { class: "muted", id: "blocked-none" }, "Every queued task can be run by a connected worker.") : null,
      v.blocked.groups.length > 0
        ? h(
            "table",
            { id: "blocked-table" },
            h("thead", {}, h("tr", {}, ["skill", "tasks", "reason", "why", "examples"].map((t) => h("th", {}, t)))),
            h(
              "tbody",
              {},
              v.blocked.groups.map((g) =>
                h(
                  "tr",
                  { "data-skill": g.skill, "data-reason": g.reason },
                  h("td", { class: "mono" }, g.skill),
                  h("td", { class: "count num" }, String(g.count)),
                  h("td", {}, h("span", { class: "pill warn" }, g.reason)),
                  h("td", { class: "detail" }, g.detail),
                  h("td", {}, g.jobIds.map((j) => h("div", {}, h("a", { href: `#task/${j}`, class: "mono" }, j)))),
                ),
              ),
            ),
          )
        : null,
      v.blocked.pending > 0 ? h("p", { class: "muted" }, `${v.blocked.pending} queued tasks not analysed yet.`) : null,
    );
  };
  const run = refresher(load, 2000);
  return { el, refresh: () => run(true), onSummary: () => run(false) };
}

// ------------------------------------------------------------------ tasks

const taskSearch = { offset: 0, limit: 50, q: "", state: "", skill: "", worker: "" };

export function tasksPage() {
  const state = taskSearch;
  const q = h("input", { type: "search", placeholder: "job or task id", id: "tasks-q", value: state.q });
  const st = h(
    "select",
    { id: "tasks-state" },
    ["", "waiting_for_worker", "running", "finished", "failed", "cancelled"].map((s) => h("option", { value: s, selected: s === state.state }, s === "" ? "any state" : s)),
  );
  const skill = h("input", { type: "search", placeholder: "skill", id: "tasks-skill", size: 12, value: state.skill });
  const worker = h("input", { type: "search", placeholder: "worker", id: "tasks-worker", size: 12, value: state.worker });
  const head = h("div", { class: "stats" });
  const table = h("div", { class: "table-wrap" });
  const form = h(
    "form",
    {
      class: "toolbar",
      id: "tasks-form",
      onsubmit: (e) => {
        e.preventDefault();
        Object.assign(state, { offset: 0, q: q.value.trim(), state: st.value, skill: skill.value.trim(), worker: worker.value.trim() });
        void run(true);
      },
    },
    q,
    st,
    skill,
    worker,
    h("button", { type: "submit" }, "Search"),
  );
  const el = h("section", { class: "page", id: "page-tasks" }, h("h2", {}, "Tasks"), form, head, table);
  const load = async () => {
    const p = new URLSearchParams({ offset: state.offset, limit: state.limit });
    for (const k of ["q", "state", "skill", "worker"]) if (state[k]) p.set(k, state[k]);
    const page = await api(`tasks?${p}`);
    const now = Date.now();
    fill(head, stat("tasks-total", "matching tasks", page.total), stat("tasks-known", "tasks remembered", page.known));
    fill(
      table,
      h(
        "table",
        { id: "tasks-table" },
        h("thead", {}, h("tr", {}, ["job", "skill", "state", "worker", "attempts", "progress", "submitted", ""].map((t) => h("th", {}, t)))),
        h(
          "tbody",
          {},
          page.items.map((t) =>
            h(
              "tr",
              { "data-job-id": t.jobId, "data-state": t.state },
              h("td", {}, h("a", { href: `#task/${t.jobId}`, class: "mono" }, t.jobId)),
              h("td", { class: "mono" }, t.type),
              h("td", {}, h("span", { class: `pill st-${t.state}` }, t.status && t.status !== t.state ? `${t.state} (${t.status})` : t.state)),
              h("td", { class: "mono" }, t.workerId ?? "–"),
              h("td", { class: "num" }, String(t.attempts)),
              h("td", { class: "num" }, t.progress === null ? "–" : `${Math.round(t.progress * 100)}%`),
              h("td", {}, ago(t.submittedAt, now)),
              h(
                "td",
                {},
                TERMINAL.has(t.state)
                  ? null
                  : h(
                      "button",
                      {
                        type: "button",
                        class: "danger small cancel",
                        onclick: async () => {
                          if (await confirmAndPost(`Cancel task ${t.jobId}?`, `tasks/${encodeURIComponent(t.jobId)}/cancel`)) void run(true);
                        },
                      },
                      "Cancel",
                    ),
              ),
            ),
          ),
        ),
      ),
      pager(page, (offset) => {
        state.offset = offset;
        void run(true);
      }),
    );
  };
  const run = refresher(load, 1000);
  return onTaskChanges(el, run);
}

// ------------------------------------------------------------------ one task

const KIND_TEXT = {
  submitted: "submitted",
  dispatched: "dispatched",
  progress: "progress",
  requeued: "re-queued",
  ignored: "result ignored",
  cancel_requested: "cancel requested",
  completed: "ended",
};

export function taskPage(ctx, jobId) {
  const body = h("div", {});
  const el = h("section", { class: "page", id: "page-task" }, h("p", {}, h("a", { href: "#tasks" }, "‹ tasks")), h("h2", { class: "mono", id: "task-id" }, jobId), body);
  const load = async () => {
    let d;
    try {
      d = await api(`tasks/${encodeURIComponent(jobId)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        fill(body, h("p", { class: "error", id: "task-missing" }, "This hub does not know this task (it may have ended long ago)."));
        return;
      }
      throw err;
    }
    const j = d.job ?? {};
    const start = j.submittedAt ?? d.timeline[0]?.t;
    const cancellable = j.state !== undefined && !TERMINAL.has(j.state);
    fill(
      body,
      h(
        "div",
        { class: "stats" },
        h("div", { class: "stat" }, h("div", { class: "stat-value" }, h("span", { id: "task-state", class: `pill st-${j.state}` }, j.state ?? "?")), h("div", { class: "stat-label" }, "state")),
        stat("task-status", "result status", j.status ?? "–"),
        stat("task-attempts", "attempts", j.attempts ?? 0),
        stat("task-worker", "worker", j.resultWorkerId ?? j.workerId ?? "–"),
        stat("task-duration", "duration", j.finishedAt ? duration(j.finishedAt - j.submittedAt) : "–"),
      ),
      cancellable
        ? h(
            "button",
            {
              type: "button",
              class: "danger",
              id: "cancel-task",
              onclick: async () => {
                if (await confirmAndPost(`Cancel task ${jobId}?`, `tasks/${encodeURIComponent(jobId)}/cancel`)) void run(true);
              },
            },
            "Cancel task",
          )
        : null,
      h(
        "dl",
        { class: "facts" },
        [
          ["skill", j.type],
          ["task id", j.taskId],
          ["priority", j.priority],
          ["retries allowed", j.maxRetries],
          ["submitted", clock(j.submittedAt)],
          ["deadline", j.deadline ? clock(j.deadline) : null],
          ["requirements", j.requirements && Object.keys(j.requirements).length ? JSON.stringify(j.requirements) : null],
          ["params", j.params],
          ["result data", j.data],
          ["error", j.error ? `${j.error.code}: ${j.error.message}` : null],
        ]
          .filter(([, v]) => v !== null && v !== undefined && v !== "")
          .map(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono" }, String(v))]),
      ),
      h("h3", {}, "Timeline"),
      h(
        "ol",
        { class: "timeline", id: "timeline" },
        d.timeline.map((e) =>
          h(
            "li",
            { "data-kind": e.kind, class: `tl-${e.kind}` },
            h("span", { class: "tl-time" }, typeof start === "number" ? `+${duration(e.t - start)}` : clock(e.t)),
            h("b", {}, KIND_TEXT[e.kind] ?? e.kind),
            e.workerId ? [" on ", h("span", { class: "mono" }, e.workerId)] : null,
            e.attempt ? ` (attempt ${e.attempt})` : null,
            typeof e.progress === "number" ? ` ${Math.round(e.progress * 100)}%` : null,
            e.message ? ` ${e.message}` : null,
            e.reason ? ` (${e.reason})` : null,
            e.status ? `: ${e.status}` : null,
            e.error ? ` ${e.error.code}: ${e.error.message}` : null,
          ),
        ),
      ),
    );
  };
  const run = refresher(load, 500);
  return onTaskChanges(el, run);
}

// ------------------------------------------------------------------ throughput

export function throughputPage() {
  let seconds = 300;
  const head = h("div", { class: "stats" });
  const charts = h("div", { class: "charts" });
  const pick = h(
    "select",
    {
      id: "tp-window",
      onchange: () => {
        seconds = Number(pick.value);
        void run(true);
      },
    },
    [
      [60, "last minute"],
      [300, "last 5 minutes"],
      [600, "last 10 minutes"],
    ].map(([v, t]) => h("option", { value: v, selected: v === seconds }, t)),
  );
  const el = h("section", { class: "page", id: "page-throughput" }, h("h2", {}, "Throughput"), h("div", { class: "toolbar" }, pick), head, charts);
  const load = async () => {
    const v = await api(`throughput?seconds=${seconds}`);
    const all = v.totals.success + v.totals.failure + v.totals.cancelled + v.totals.other;
    fill(
      head,
      stat("tp-rate", "tasks/s (average)", (all / v.seconds).toFixed(2)),
      stat("tp-success", "succeeded", v.totals.success),
      stat("tp-failure", "failed", v.totals.failure),
      stat("tp-cancelled", "cancelled", v.totals.cancelled),
      stat("tp-other", "other statuses", v.totals.other),
      stat("tp-p50", "p50 latency", v.p50 === null ? "–" : duration(v.p50)),
      stat("tp-p99", "p99 latency", v.p99 === null ? "–" : duration(v.p99)),
    );
    // Per-second counts summed into the latency buckets' width, so the lines stay readable.
    const w = v.bucketSeconds;
    const grouped = [];
    for (let i = 0; i < v.points.length; i += w) {
      const chunk = v.points.slice(i, i + w);
      const sum = (k) => chunk.reduce((a, p) => a + p[k], 0) / chunk.length;
      grouped.push({ t: chunk[0].t, success: sum("success"), failure: sum("failure"), cancelled: sum("cancelled"), other: sum("other") });
    }
    fill(
      charts,
      lineChart(
        [
          ["succeeded", "ok", "success"],
          ["failed", "bad", "failure"],
          ["cancelled", "cancel", "cancelled"],
          ["other", "other", "other"],
        ].map(([name, cls, k]) => ({ name, cls, points: grouped.map((p) => [p.t, p[k]]) })),
        { title: `Tasks ended per second (${w} s average)`, unit: "/s" },
      ),
      lineChart(
        [
          { name: "p50", cls: "c0", points: v.latency.map((p) => [p.t, p.p50]) },
          { name: "p99", cls: "c3", points: v.latency.map((p) => [p.t, p.p99]) },
        ],
        { title: "Latency from submit to end (ms)", unit: "" },
      ),
    );
  };
  const run = refresher(load, 2000);
  return { el, refresh: () => run(true), onSummary: () => run(false) };
}
