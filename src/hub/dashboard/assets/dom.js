// Building DOM without innerHTML: every value from the hub (worker ids, error messages...) is
// set as text, never parsed as markup.

/** Creates an element: attrs (class, id, data-*, on* handlers, other attributes), then children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/** Appends children: nodes, strings (as text), arrays of them; null/undefined are skipped. */
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** "3 s ago", "4 min ago"... from an epoch-ms time. */
export function ago(t, now = Date.now()) {
  if (typeof t !== "number") return "–";
  return `${duration(Math.max(0, now - t))} ago`;
}

/** A duration in ms as "850 ms", "12.3 s", "4 min", "2 h". */
export function duration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3600000) return `${Math.floor(ms / 60000)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

/** Time of day of an epoch-ms time. */
export function clock(t) {
  return typeof t === "number" ? new Date(t).toLocaleTimeString() : "–";
}

/** Short text of a small value (device properties, metrics). */
export function short(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") {
    return Object.entries(v)
      .map(([k, x]) => `${k}=${typeof x === "object" ? JSON.stringify(x) : x}`)
      .join(" ");
  }
  return String(v);
}

/** A "prev / showing a–b of n / next" pager. */
export function pager(page, onMove) {
  const from = page.total === 0 ? 0 : page.offset + 1;
  const to = Math.min(page.total, page.offset + page.items.length);
  return h(
    "div",
    { class: "pager" },
    h("button", { type: "button", class: "ghost", disabled: page.offset === 0, onclick: () => onMove(Math.max(0, page.offset - page.limit)) }, "‹ prev"),
    h("span", { class: "range" }, `${from}–${to} of ${page.total}`),
    h("button", { type: "button", class: "ghost", disabled: to >= page.total, onclick: () => onMove(page.offset + page.limit) }, "next ›"),
  );
}
