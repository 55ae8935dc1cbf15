// Small SVG charts: line charts with axes and a legend, and usage bars. Built with the DOM
// (createElementNS), no library.

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A "nice" upper bound for an axis. */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * A line chart. series: [{ name, cls, points: [[t, value|null], ...] }] (t in epoch ms).
 * Gaps (null) break the line. Returns an <svg> element with a legend below it.
 */
export function lineChart(series, { width = 640, height = 180, unit = "", title = "" } = {}) {
  const pad = { l: 48, r: 10, t: 10, b: 22 };
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title });
  let tMin = Infinity;
  let tMax = -Infinity;
  let vMax = 0;
  for (const se of series) {
    for (const [t, v] of se.points) {
      tMin = Math.min(tMin, t);
      tMax = Math.max(tMax, t);
      if (typeof v === "number") vMax = Math.max(vMax, v);
    }
  }
  const top = niceMax(vMax);
  if (!Number.isFinite(tMin)) {
    tMin = Date.now() - 60000;
    tMax = Date.now();
  }
  if (tMax === tMin) tMax = tMin + 1000;
  const x = (t) => pad.l + ((t - tMin) / (tMax - tMin)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - (v / top) * (height - pad.t - pad.b);
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    svg.append(s("line", { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(s("text", { x: pad.l - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, `${+v.toFixed(2)}${unit}`));
  }
  for (const t of [tMin, (tMin + tMax) / 2, tMax]) {
    svg.append(s("text", { x: x(t), y: height - 6, class: "tick", "text-anchor": t === tMin ? "start" : t === tMax ? "end" : "middle" }, new Date(t).toLocaleTimeString()));
  }
  for (const se of series) {
    let d = "";
    let pen = false;
    for (const [t, v] of se.points) {
      if (typeof v !== "number") {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    }
    if (d !== "") svg.append(s("path", { d, class: `line ${se.cls}` }));
    // A value with no neighbour draws no line: mark it with a dot so it is seen.
    se.points.forEach(([t, v], i) => {
      if (typeof v !== "number") return;
      const prev = se.points[i - 1]?.[1];
      const next = se.points[i + 1]?.[1];
      if (typeof prev !== "number" && typeof next !== "number") svg.append(s("circle", { cx: x(t), cy: y(v), r: 3, class: `dot ${se.cls}` }));
    });
  }
  const figure = document.createElement("figure");
  figure.className = "chart-box";
  if (title) {
    const cap = document.createElement("figcaption");
    cap.textContent = title;
    figure.append(cap);
  }
  figure.append(svg);
  const legend = document.createElement("div");
  legend.className = "legend";
  for (const se of series) {
    const item = document.createElement("span");
    item.className = `key ${se.cls}`;
    item.textContent = se.name;
    legend.append(item);
  }
  figure.append(legend);
  return figure;
}

/** A horizontal usage bar 0–100 with its label, e.g. for GPU load. */
export function bar(percent, label) {
  const wrap = document.createElement("span");
  wrap.className = "bar";
  const p = typeof percent === "number" && Number.isFinite(percent) ? Math.max(0, Math.min(100, percent)) : null;
  const svg = s("svg", { viewBox: "0 0 100 8", preserveAspectRatio: "none", class: "bar-svg" });
  svg.append(s("rect", { x: 0, y: 0, width: 100, height: 8, class: "track" }));
  if (p !== null) svg.append(s("rect", { x: 0, y: 0, width: p, height: 8, class: p > 85 ? "fill hot" : p > 60 ? "fill warm" : "fill" }));
  wrap.append(svg);
  const text = document.createElement("span");
  text.className = "bar-label";
  text.textContent = `${label ? label + " " : ""}${p === null ? "–" : Math.round(p) + "%"}`;
  wrap.append(text);
  return wrap;
}

/** Colour classes for up to 8 series. */
export const PALETTE = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"];
