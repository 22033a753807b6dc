// The eddy dashboard: polls /jobs/current/snapshot every second and draws the job graph,
// throughput, operators, checkpoints, the exception and the configuration. No libraries.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const POLL_MS = 1000;
const HISTORY = 120;

let previous = null; // the last snapshot, for rates
const samples = []; // {t, in, out} rates per poll

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmt(n) {
  if (n === null || n === undefined) return "–";
  if (n >= 1e9) return (n / 1e9).toFixed(2) + " G";
  if (n >= 1e6) return (n / 1e6).toFixed(2) + " M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + " k";
  return String(Math.round(n));
}

function duration(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return ms + " ms";
  const s = ms / 1000;
  if (s < 120) return s.toFixed(1) + " s";
  return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
}

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return n.toFixed(i ? 1 : 0) + " " + units[i];
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

// Rates of an operator between the previous snapshot and this one.
function rates(snapshot) {
  const out = {};
  const seconds = previous ? Math.max((snapshot.now_ms - previous.now_ms) / 1000, 0.001) : null;
  const before = {};
  if (previous) for (const op of previous.operators) before[op.id] = op;
  for (const op of snapshot.operators) {
    const old = before[op.id];
    if (!old || seconds === null) { out[op.id] = { in: null, out: null, busy: null }; continue; }
    const busy = (op.busy_ns - old.busy_ns) / 1e9 / seconds / Math.max(op.parallelism, 1);
    out[op.id] = { in: (op.records_in - old.records_in) / seconds, out: (op.records_out - old.records_out) / seconds, busy };
  }
  return out;
}

function busyColour(busy) {
  if (busy === null) return "#e8eaef";
  if (busy < 0.3) return "#cfe8d3";
  if (busy < 0.7) return "#f6e3a8";
  return "#f2b8b3";
}

// Layers: an operator's depth is the longest path from an operator without inputs.
function layout(operators, edges) {
  const depth = {};
  for (const op of operators) depth[op.id] = 0;
  for (let round = 0; round < operators.length; round++) {
    let changed = false;
    for (const edge of edges) {
      if (depth[edge.source] === undefined || depth[edge.target] === undefined) continue;
      if (depth[edge.target] < depth[edge.source] + 1) { depth[edge.target] = depth[edge.source] + 1; changed = true; }
    }
    if (!changed) break;
  }
  const layers = [];
  for (const op of operators) (layers[depth[op.id]] = layers[depth[op.id]] || []).push(op);
  return { depth, layers: layers.filter(Boolean) };
}

function drawGraph(snapshot, perOperator) {
  const svg = document.getElementById("graph");
  svg.replaceChildren();
  const { layers } = layout(snapshot.operators, snapshot.edges);
  const W = 190, H = 58, GX = 60, GY = 18;
  const pos = {};
  let height = 0;
  layers.forEach((layer, x) => {
    layer.forEach((op, y) => { pos[op.id] = { x: 10 + x * (W + GX), y: 10 + y * (H + GY) }; });
    height = Math.max(height, 10 + layer.length * (H + GY));
  });
  svg.setAttribute("viewBox", `0 0 ${20 + layers.length * (W + GX)} ${Math.max(height, 80)}`);
  svg.style.height = Math.max(height, 80) + "px";
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "6", markerHeight: "6", orient: "auto-start-reverse" });
  marker.appendChild(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#889" }));
  const defs = el("defs");
  defs.appendChild(marker);
  svg.appendChild(defs);
  for (const edge of snapshot.edges) {
    const a = pos[edge.source], b = pos[edge.target];
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    const path = el("path", { class: "edge " + edge.exchange, d: `M ${x1} ${y1} C ${x1 + GX / 2} ${y1}, ${x2 - GX / 2} ${y2}, ${x2} ${y2}`, "marker-end": "url(#arrow)" });
    path.appendChild(el("title", {}, `${edge.exchange}: ${fmt(edge.records)} records`));
    svg.appendChild(path);
  }
  for (const op of snapshot.operators) {
    const p = pos[op.id];
    const r = perOperator[op.id] || {};
    const g = el("g", { class: "node", "data-id": op.id, transform: `translate(${p.x},${p.y})` });
    g.appendChild(el("rect", { width: W, height: H, fill: busyColour(r.busy) }));
    const name = op.name.length > 28 ? op.name.slice(0, 27) + "…" : op.name;
    g.appendChild(el("text", { x: 8, y: 16 }, name));
    g.appendChild(el("text", { x: 8, y: 31, class: "figures" }, `in ${fmt(r.in)}/s  out ${fmt(r.out)}/s`));
    const busy = r.busy === null || r.busy === undefined ? "–" : Math.round(r.busy * 100) + "%";
    g.appendChild(el("text", { x: 8, y: 46, class: "figures" }, `×${op.parallelism}  busy ${busy}${op.uid ? "  uid " + op.uid : ""}`));
    g.appendChild(el("title", {}, `${op.name} (${op.id})\nrecords in ${op.records_in}, out ${op.records_out}`));
    svg.appendChild(g);
  }
}

function drawThroughput() {
  const svg = document.getElementById("throughput");
  svg.replaceChildren();
  const max = Math.max(1, ...samples.map((s) => Math.max(s.in, s.out)));
  const line = (key) => samples.map((s, i) => `${(i / (HISTORY - 1)) * 800},${155 - (s[key] / max) * 145}`).join(" ");
  svg.appendChild(el("polyline", { class: "in", points: line("in") }));
  svg.appendChild(el("polyline", { class: "out", points: line("out") }));
  setText("throughput-max", `(top: ${fmt(max)}/s)`);
}

function drawOperators(snapshot, perOperator) {
  const body = document.querySelector("#operators tbody");
  body.replaceChildren();
  for (const op of snapshot.operators) {
    const r = perOperator[op.id] || {};
    const row = document.createElement("tr");
    row.dataset.operatorId = op.id;
    const cells = [op.id, op.name, op.uid || "", op.parallelism, fmt(op.records_in), fmt(op.records_out), fmt(r.in), fmt(r.out), fmt(op.records_exchanged), duration(Math.round(op.busy_ns / 1e6))];
    cells.forEach((text, i) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (i >= 3) cell.className = "num";
      row.appendChild(cell);
    });
    body.appendChild(row);
  }
}

function drawCheckpoints(snapshot) {
  const c = snapshot.checkpoints;
  setText("checkpoint-counts", `started ${c.started}, completed ${c.completed}, failed ${c.failed}`);
  const body = document.querySelector("#checkpoints tbody");
  body.replaceChildren();
  for (const record of [...c.history].reverse()) {
    const row = document.createElement("tr");
    row.dataset.checkpointId = record.id;
    const logical = record.logical_time >= 18446744073709550000 ? "end of input" : String(record.logical_time);
    const cells = [record.id, record.kind || "", record.status.replace("_", " "), logical, duration(record.duration_ms), bytes(record.bytes), new Date(record.started_ms).toLocaleTimeString()];
    cells.forEach((text, i) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (i === 0) cell.className = "id";
      if (i === 2) cell.className = "status-" + record.status;
      row.appendChild(cell);
    });
    body.appendChild(row);
  }
  const svg = document.getElementById("checkpoint-chart");
  svg.replaceChildren();
  const shown = c.history.slice(-60);
  const max = Math.max(1, ...shown.map((r) => r.duration_ms || 0));
  const width = 800 / Math.max(shown.length, 1);
  shown.forEach((record, i) => {
    const h = ((record.duration_ms || 0) / max) * 110;
    const bar = el("rect", { class: "bar " + record.status, x: i * width + 1, y: 115 - h, width: Math.max(width - 2, 1), height: Math.max(h, 1) });
    bar.appendChild(el("title", {}, `checkpoint ${record.id}: ${duration(record.duration_ms)}, ${bytes(record.bytes)}`));
    svg.appendChild(bar);
  });
}

function render(snapshot) {
  const state = document.getElementById("state");
  state.textContent = snapshot.state;
  state.className = "state " + snapshot.state;
  const reporting = snapshot.process_figures.map((p) => p.process).join(", ");
  const processes = snapshot.processes > 1 ? `process ${snapshot.process} of ${snapshot.processes} (figures of processes ${reporting}), ` : "";
  setText("summary", `${processes}${snapshot.workers} worker${snapshot.workers === 1 ? "" : "s"} per process`);
  const perOperator = rates(snapshot);
  const seconds = previous ? Math.max((snapshot.now_ms - previous.now_ms) / 1000, 0.001) : null;
  const rateIn = seconds ? (snapshot.records_read - previous.records_read) / seconds : 0;
  const rateOut = seconds ? (snapshot.records_out - previous.records_out) / seconds : 0;
  setText("records-in", fmt(snapshot.records_read));
  setText("records-out", fmt(snapshot.records_out));
  setText("rate-in", seconds ? fmt(rateIn) + "/s" : "");
  setText("rate-out", seconds ? fmt(rateOut) + "/s" : "");
  setText("dead-letters", fmt(snapshot.dead_letters));
  setText("watermark", snapshot.source_watermark === null ? (snapshot.state === "running" ? "–" : "ended") : String(snapshot.source_watermark));
  // The lag means something only when event times are wall-clock times.
  const lag = snapshot.watermark_lag_ms;
  setText("lag", lag === null || lag > 7 * 24 * 3600 * 1000 ? "" : "lag " + duration(lag));
  setText("last-checkpoint", snapshot.checkpoints.last_completed_id === null ? "none" : String(snapshot.checkpoints.last_completed_id));
  setText("checkpoint-age", snapshot.checkpoints.last_completed_age_ms === null ? "" : duration(snapshot.checkpoints.last_completed_age_ms) + " ago");
  setText("uptime", duration(snapshot.uptime_ms));
  setText("restarts", snapshot.restarts ? `${snapshot.restarts} restart${snapshot.restarts === 1 ? "" : "s"}` : "no restarts");
  if (seconds) {
    samples.push({ in: rateIn, out: rateOut });
    while (samples.length > HISTORY) samples.shift();
  }
  drawGraph(snapshot, perOperator);
  drawThroughput();
  drawOperators(snapshot, perOperator);
  drawCheckpoints(snapshot);
  const error = snapshot.error;
  setText("exception", error ? `${error.message}\nworker: ${error.worker ?? "unknown"}\noperator: ${error.operator ?? "unknown"}\nat: ${new Date(error.at_ms).toISOString()}` : "none");
  setText("config", JSON.stringify(snapshot.config, null, 2));
  previous = snapshot;
}

async function poll() {
  try {
    const response = await fetch("/jobs/current/snapshot", { cache: "no-store" });
    if (response.ok) render(await response.json());
  } catch (error) {
    // The process has exited (or is restarting): keep the last picture and try again.
    const state = document.getElementById("state");
    state.textContent = "unreachable";
    state.className = "state";
  }
  setTimeout(poll, POLL_MS);
}

poll();
