// The dashboard app: login form, the summary bar, hash routing between pages, and the live
// stream that drives refreshes (no polling loop: pages reload their data when a summary
// arrives and says something changed).

import { api, clearToken, follow, setToken, token, whenRefused } from "./api.js";
import { fill } from "./dom.js";
import { fleetPage, queuesPage, taskPage, tasksPage, throughputPage } from "./pages.js";

const $ = (id) => document.getElementById(id);

let latest = null;
let page = null;
let stopStream = null;
const ctx = { summary: () => latest };

function showSummary(s) {
  latest = s;
  for (const k of ["workers", "queued", "running", "succeeded", "failed", "cancelled"]) {
    const el = $(`sum-${k}`);
    if (el) el.textContent = String(s.stats[k]);
  }
  document.body.dataset.taskVersion = String(s.taskVersion);
  if (page) page.onSummary(s);
}

function setLive(on) {
  const el = $("live");
  el.textContent = on ? "live" : "offline";
  el.className = on ? "live on" : "live off";
}

function route() {
  if (token() === null) return;
  const hash = location.hash.replace(/^#/, "") || "fleet";
  const [name, ...rest] = hash.split("/");
  const id = decodeURIComponent(rest.join("/"));
  page =
    name === "queues"
      ? queuesPage(ctx)
      : name === "tasks"
        ? tasksPage(ctx)
        : name === "task" && id
          ? taskPage(ctx, id)
          : name === "throughput"
            ? throughputPage(ctx)
            : fleetPage(ctx);
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === (name === "task" ? "tasks" : name));
  fill($("main"), page.el);
  void page.refresh();
}

function showLogin(message) {
  if (stopStream) stopStream();
  stopStream = null;
  page = null;
  fill($("main"));
  $("login").hidden = false;
  $("logout").hidden = true;
  $("login-error").textContent = message || "";
  $("login-token").focus();
}

async function start() {
  try {
    showSummary(await api("summary"));
  } catch {
    return; // whenRefused already showed the login form, or the hub is away.
  }
  $("login").hidden = true;
  $("logout").hidden = false;
  document.body.dataset.ready = "true";
  stopStream = follow(showSummary, setLive);
  route();
}

whenRefused((message) => {
  clearToken();
  showLogin(message);
});

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const t = $("login-token").value;
  if (t === "") return;
  setToken(t);
  $("login-token").value = "";
  void start();
});

$("logout").addEventListener("click", () => {
  clearToken();
  showLogin("");
});

window.addEventListener("hashchange", route);

if (token() === null) showLogin("");
else void start();
