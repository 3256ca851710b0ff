"use strict";
// The lesson page's script: the overlay on the diagram (time cursor, dimmed future, highlighted
// step, hovered record and its lineage), the step list, and the view inside one task's channels.
// Everything it draws comes from the data in #lesson-data; times are simulated nanoseconds.
window.addEventListener("error", (e) => { document.body.dataset.selftest = "error: " + e.message; });
const L = JSON.parse(document.getElementById("lesson-data").textContent);
const G = L.geometry;
const NS = "http://www.w3.org/2000/svg";
const fig = document.querySelector("#figure svg");
const slider = document.getElementById("time");
const nowOut = document.getElementById("now");
const protoSel = document.getElementById("proto");
const taskSel = document.getElementById("task");
const list = document.getElementById("steplist");
const tip = document.getElementById("tip");
const buf = document.getElementById("buffers");
const FROM = Math.min(...L.panels.map((p) => p.from));
const TO = Math.max(...L.panels.map((p) => p.to));
const state = { panel: 0, t: FROM, step: -1, task: 0, hover: null };

function el(name, attrs, parent, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
function x(p, t) {
  const span = Math.max(1, p.to - p.from);
  return G.left + ((Math.min(Math.max(t, p.from), p.to) - p.from) / span) * (G.width - G.left - G.right);
}
function y(p, task) { return p.y0 + G.top + G.lane * (p.rows[task] + 0.5); }
function fmt(p, t) { return p.ticks ? "tick " + Math.floor(t / 1e6) : (t / 1e6).toFixed(3) + " ms"; }
function panelHeight(i) {
  return i + 1 < L.panels.length ? L.panels[i + 1].y0 - L.panels[i].y0 : fig.viewBox.baseVal.height - L.panels[i].y0;
}
function name(p, task) { return p.lanes[task]; }
function chName(p, ch) { return p.channels[ch][2]; }

// One overlay group per panel, drawn over the diagram.
const overlays = L.panels.map((p, i) => {
  const g = el("g", { class: "overlay", "pointer-events": "none" }, fig);
  const top = p.y0 + G.top - 6, bottom = p.y0 + G.top + G.lane * p.lanes.length;
  const veil = el("rect", { y: top, height: bottom - top, fill: "#fff", opacity: 0.62 }, g);
  const cursor = el("line", { y1: top - 8, y2: bottom, stroke: "#333", "stroke-width": 1.5, "stroke-dasharray": "5,3" }, g);
  const hl = el("g", {}, g);
  return { p, i, veil, cursor, hl };
});

function drawCursor() {
  for (const o of overlays) {
    const xx = x(o.p, state.t);
    o.veil.setAttribute("x", xx);
    o.veil.setAttribute("width", Math.max(0, G.width - G.right - xx));
    o.cursor.setAttribute("x1", xx);
    o.cursor.setAttribute("x2", xx);
  }
  nowOut.textContent = fmt(L.panels[0], state.t);
  slider.value = Math.round(((state.t - FROM) / Math.max(1, TO - FROM)) * 1000);
}

function hlLine(g, x1, y1, x2, y2, w) {
  return el("line", { class: "hl", x1, y1, x2, y2, "stroke-width": w || 9, "stroke-linecap": "round" }, g);
}

// The diagram elements of step `s` of panel `p`: those at its task whose time span holds its time.
function stepElements(p, s) {
  const task = s.task === null ? -1 : p.lanes.indexOf(s.task);
  const eps = (p.to - p.from) / 300;
  const near = (a, b) => s.t >= a - eps && s.t <= b + eps;
  const out = [];
  for (const [ch, sent, arrived] of p.barriers) {
    const [f, t] = p.channels[ch];
    if ((f === task && near(sent, sent)) || (t === task && near(arrived, arrived)))
      out.push(["line", x(p, sent), y(p, f), x(p, arrived), y(p, t)]);
  }
  for (const [ch, a, b] of p.waits) {
    const t = p.channels[ch][1];
    if (t === task && near(a, b)) out.push(["line", x(p, a), y(p, t), x(p, b), y(p, t)]);
  }
  for (const [ch, a, b] of p.blocked.concat(p.recording)) {
    const t = p.channels[ch][1];
    if (t === task && near(a, b)) out.push(["line", x(p, a), y(p, t), x(p, b), y(p, t)]);
  }
  for (const [t, at] of p.snapshots) {
    if (t === task && near(at, at)) out.push(["dot", x(p, at), y(p, t)]);
    if (task < 0 && s.event === "snapshot" && near(at, at)) out.push(["dot", x(p, at), y(p, t)]);
  }
  // The "how much" steps: every record (or wait) they count.
  const counted = { channel_state: 1, orphans: 2 }[s.event];
  if (counted) for (const m of p.messages) if (m[4] === counted) out.push(["line", ...segment(p, m)]);
  if (s.event === "queue_waits") for (const [ch, a, b] of p.waits) out.push(["line", x(p, a), y(p, p.channels[ch][1]), x(p, b), y(p, p.channels[ch][1])]);
  if (task >= 0) out.push(["ring", x(p, s.t), y(p, task)]);
  return out;
}

function drawHighlights() {
  for (const o of overlays) o.hl.replaceChildren();
  const o = overlays[state.panel];
  const p = o.p;
  if (state.step >= 0) {
    for (const e of stepElements(p, p.steps[state.step])) {
      if (e[0] === "line") hlLine(o.hl, e[1], e[2], e[3], e[4]);
      else if (e[0] === "dot") el("circle", { class: "hl", cx: e[1], cy: e[2], r: 9, "stroke-width": 6 }, o.hl);
      else el("circle", { cx: e[1], cy: e[2], r: 13, fill: "none", stroke: "#222", "stroke-width": 2 }, o.hl);
    }
  }
  if (state.hover) {
    const [hp, m] = state.hover;
    for (const q of lineage(hp, m)) hlLine(overlays[hp.index].hl, ...segment(hp, q), 7);
  }
}

function segment(p, m) {
  const [f, t] = p.channels[m[0]];
  return [x(p, m[2]), y(p, f), x(p, m[3] === null ? p.to : m[3]), y(p, t)];
}
// Every hop of the record `m` derives from: the messages of the same source record.
function lineage(p, m) {
  if (m[6] === null) return [m];
  return p.messages.filter((q) => q[6] === m[6] && q[7] === m[7]);
}

function highlightCount() {
  return overlays.reduce((n, o) => n + o.hl.childElementCount, 0);
}

function renderSteps() {
  const p = L.panels[state.panel];
  list.replaceChildren();
  p.steps.forEach((s, i) => {
    const li = document.createElement("li");
    li.dataset.i = i;
    const time = document.createElement("time");
    time.textContent = fmt(p, s.t);
    li.appendChild(time);
    if (s.task !== null) {
      const b = document.createElement("b");
      b.textContent = s.task + " ";
      li.appendChild(b);
    }
    li.appendChild(document.createTextNode(s.text));
    const small = document.createElement("small");
    small.textContent = "rule: " + s.rule;
    li.appendChild(small);
    li.addEventListener("click", () => selectStep(i));
    list.appendChild(li);
  });
  markSteps();
}

function markSteps() {
  const p = L.panels[state.panel];
  let current = state.step;
  if (current < 0 || p.steps[current].t > state.t) {
    current = -1;
    p.steps.forEach((s, i) => { if (s.t <= state.t) current = i; });
  }
  for (const li of list.children) {
    const i = Number(li.dataset.i);
    li.className = i === current ? "current" : p.steps[i].t <= state.t ? "past" : "future";
  }
  const li = list.children[current];
  const box = list.parentElement;
  if (li && (li.offsetTop < box.scrollTop || li.offsetTop + li.offsetHeight > box.scrollTop + box.clientHeight))
    box.scrollTop = li.offsetTop - box.clientHeight / 3;
}

function selectStep(i) {
  const p = L.panels[state.panel];
  const s = p.steps[i];
  state.step = i;
  state.t = s.t;
  if (s.task !== null && p.lanes.indexOf(s.task) >= 0) {
    state.task = p.lanes.indexOf(s.task);
    taskSel.value = String(state.task);
  }
  update();
}

// Records on channel `ch` at time `t`: written and not yet taken (in the sender's output buffer,
// on the wire or in the receiver's queue), oldest first; and where the barrier is among them.
function channelAt(p, ch, t) {
  const recs = p.messages.filter((m) => m[0] === ch && m[2] <= t && (m[3] === null || m[3] > t));
  recs.sort((a, b) => a[1] - b[1]);
  let barrier = null;
  for (const [c, sent, arrived, priority] of p.barriers) {
    if (c !== ch || sent > t) continue;
    const w = p.waits.find((w) => w[0] === ch && w[1] === arrived);
    const taken = w ? w[2] : arrived;
    if (t >= taken) continue;
    const ahead = priority ? 0 : recs.filter((m) => m[2] < sent).length;
    barrier = { priority, ahead, arrived: t >= arrived, sent };
  }
  const inside = (iv) => iv.some(([c, a, b]) => c === ch && a <= t && t < b);
  return { recs, barrier, blocked: inside(p.blocked), recording: inside(p.recording) };
}

const SLOT = 11, SLOTS = 24, ROW = 24;
function drawQueue(g, p, q, row, x0, dir, label, labelX, anchor) {
  const yy = 34 + row * ROW;
  el("text", { x: labelX, y: yy + 12, "font-size": 12, "text-anchor": anchor }, g, label);
  const span = SLOT * (SLOTS + 1) + 4;
  const bx = dir < 0 ? x0 - span : x0;
  if (q.blocked) el("rect", { x: bx, y: yy, width: span, height: 16, fill: "url(#lhatch)" }, g);
  if (q.recording) el("rect", { x: bx, y: yy, width: span, height: 16, fill: "url(#ldots)" }, g);
  el("rect", { x: bx, y: yy, width: span, height: 16, fill: "none", stroke: "#bbb" }, g);
  // Slot 0 is the front: next to the operator for an input, farthest from it for an output.
  let items = q.recs.map((m) => ({ m }));
  if (q.barrier) items.splice(q.barrier.ahead, 0, { barrier: q.barrier });
  const hidden = items.length;
  if (q.barrier && q.barrier.ahead > SLOTS - 8) {
    // Keep the barrier in view: the front of the queue, a gap for the records between, then
    // the last records ahead of the barrier, the barrier and a few behind it.
    const b = q.barrier.ahead;
    const skipped = b - 3 - (SLOTS - 12);
    items = items.slice(0, SLOTS - 12).concat([{ gap: skipped }], items.slice(b - 3, b + 7));
  }
  items.slice(0, SLOTS).forEach((it, k) => {
    // The front is on the right on both sides: the receiving task takes from it, the network
    // sends from it.
    const sx = dir < 0 ? x0 - 3 - (k + 1) * SLOT : x0 + span - 3 - (k + 1) * SLOT;
    if (it.gap) {
      el("text", { x: sx + SLOT / 2, y: yy + 12, "font-size": 10, "text-anchor": "middle", fill: "#555" }, g, "…" + it.gap + "…");
    } else if (it.barrier) {
      const color = it.barrier.priority ? "#d62728" : "#1f77b4";
      const r = el("rect", { x: sx + 3, y: yy - 3, width: 5, height: 22, fill: color }, g);
      el("title", {}, r, (it.barrier.priority ? "priority barrier: overtook every record queued here" :
        "in-band barrier: behind " + it.barrier.ahead + " record(s)") + (it.barrier.arrived ? ", in the receiver's queue" : ", on its way"));
    } else {
      const m = it.m;
      const color = m[4] === 1 ? "#ff7f0e" : m[4] === 2 ? "#9467bd" : "#9aa4ad";
      const r = el("rect", { x: sx + 1, y: yy + 2, width: SLOT - 2, height: 12, fill: color, rx: 2 }, g);
      el("title", {}, r, recordText(p, m));
    }
  });
  const shown = items.slice(0, SLOTS).reduce((n, it) => n + (it.gap ? it.gap : 1), 0);
  if (hidden > shown) {
    // The records not drawn are the newest, at the back of the queue (on its left).
    el("text", { x: bx - 4, y: yy + 12, "font-size": 11, "text-anchor": "end", fill: "#555" }, g, "+" + (hidden - shown));
  }
}

function renderInside() {
  const p = L.panels[state.panel];
  const task = state.task, t = state.t;
  buf.replaceChildren();
  const defs = el("defs", {}, buf);
  const h = el("pattern", { id: "lhatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, defs);
  el("rect", { width: 6, height: 6, fill: "#d62728", opacity: 0.15 }, h);
  el("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#d62728", "stroke-width": 2, opacity: 0.55 }, h);
  const d = el("pattern", { id: "ldots", width: 5, height: 5, patternUnits: "userSpaceOnUse" }, defs);
  el("rect", { width: 5, height: 5, fill: "#2ca02c", opacity: 0.15 }, d);
  el("rect", { x: 1.6, y: 1.6, width: 1.8, height: 1.8, fill: "#2ca02c", opacity: 0.8 }, d);
  const ins = [], outs = [];
  p.channels.forEach(([f, to], ch) => { if (to === task) ins.push(ch); if (f === task) outs.push(ch); });
  const MAXROWS = 8;
  const rows = Math.max(1, Math.min(MAXROWS, Math.max(ins.length, outs.length)));
  const height = 60 + rows * ROW + 40;
  buf.setAttribute("viewBox", "0 0 1000 " + height);
  buf.setAttribute("height", height);
  el("text", { x: 4, y: 18, "font-size": 13, "font-weight": "bold" }, buf, "input channels (front of the queue on the right)");
  el("text", { x: 996, y: 18, "font-size": 13, "font-weight": "bold", "text-anchor": "end" }, buf, "output channels (front on the right)");
  let blockedIns = 0, waiting = 0, state_ = 0;
  ins.slice(0, MAXROWS).forEach((ch, r) => {
    const q = channelAt(p, ch, t);
    if (q.blocked) blockedIns++;
    if (q.barrier && !q.barrier.priority) waiting += q.barrier.ahead;
    drawQueue(buf, p, q, r, 405, -1, "from " + name(p, p.channels[ch][0]), 4, "start");
  });
  outs.slice(0, MAXROWS).forEach((ch, r) => {
    const q = channelAt(p, ch, t);
    state_ += q.recs.filter((m) => m[4] === 1).length;
    drawQueue(buf, p, q, r, 620, 1, "to " + name(p, p.channels[ch][1]), 996, "end");
  });
  if (ins.length > MAXROWS) el("text", { x: 4, y: 34 + MAXROWS * ROW + 14, "font-size": 11, fill: "#555" }, buf, "+" + (ins.length - MAXROWS) + " more input channels");
  if (outs.length > MAXROWS) el("text", { x: 996, y: 34 + MAXROWS * ROW + 14, "font-size": 11, fill: "#555", "text-anchor": "end" }, buf, "+" + (outs.length - MAXROWS) + " more output channels");
  const snap = p.snapshots.find(([k]) => k === task);
  const done = snap && snap[1] <= t;
  el("rect", { x: 425, y: 28, width: 150, height: rows * ROW + 8, rx: 8, fill: done ? "#e8f4ff" : "#f6f6f6", stroke: "#555" }, buf);
  el("text", { x: 500, y: 48, "font-size": 14, "font-weight": "bold", "text-anchor": "middle" }, buf, name(p, task));
  el("text", { x: 500, y: 66, "font-size": 12, "text-anchor": "middle" }, buf, done ? "snapshot at " + fmt(p, snap[1]) : snap ? "no snapshot yet" : "no snapshot in view");
  if (ins.length) el("text", { x: 500, y: 82, "font-size": 12, "text-anchor": "middle" }, buf, blockedIns + " of " + ins.length + " inputs blocked");
  const ly = 60 + rows * ROW + 8;
  const legend = [["#9aa4ad", "record"], ["#ff7f0e", "record in flight at the cut (channel state)"], ["#9467bd", "orphan"], ["#1f77b4", "in-band barrier"], ["#d62728", "priority barrier"]];
  let lx = 4;
  for (const [c, label] of legend) {
    el("rect", { x: lx, y: ly, width: 10, height: 10, fill: c, rx: 2 }, buf);
    const tx = el("text", { x: lx + 14, y: ly + 9, "font-size": 11 }, buf, label);
    lx += 24 + label.length * 5.8;
    void tx;
  }
  el("rect", { x: lx, y: ly, width: 18, height: 10, fill: "url(#lhatch)" }, buf);
  el("text", { x: lx + 22, y: ly + 9, "font-size": 11 }, buf, "blocked");
  el("rect", { x: lx + 74, y: ly, width: 18, height: 10, fill: "url(#ldots)" }, buf);
  el("text", { x: lx + 96, y: ly + 9, "font-size": 11 }, buf, "recorded");
  document.getElementById("inside-title").textContent = "Inside " + name(p, task) + " at " + fmt(p, t) + " (" + p.protocol + ")";
  const notes = [];
  if (waiting) notes.push("An in-band barrier waits behind " + waiting + " record(s) on this task's inputs: the task must take them first.");
  if (blockedIns) notes.push(blockedIns + " input(s) blocked: what arrives behind the barrier waits until every input delivered it (alignment).");
  if (state_) notes.push(state_ + " record(s) on the outputs were written before the snapshot and are still in flight: the snapshot must hold them as channel state.");
  if (p.sampled_every > 1)
    notes.push("(This page holds " + p.messages.length + " of the checkpoint's " + p.messages_total + " records: every record crossing the cut, and 1 in " + p.sampled_every + " of the others — the queues here are thinned the same way.)");
  document.getElementById("inside-note").textContent = notes.join(" ") || "Records on their way through " + name(p, task) + "'s channels at this time.";
}

function recordText(p, m) {
  const [ch, seq, sent, taken, crossing, key, part, off] = m;
  const lines = ["record #" + seq + " on " + chName(p, ch)];
  if (key !== null) lines.push("key " + key + ", from " + name(p, part) + " at offset " + off + " of its log");
  lines.push("written " + fmt(p, sent) + ", " + (taken === null ? "not taken in this window" : "taken " + fmt(p, taken)));
  if (crossing === 1) lines.push("in flight at the cut: the checkpoint holds it as channel state (or replays it)");
  if (crossing === 2) lines.push("orphan: written after its sender's snapshot, taken before its receiver's");
  return lines.join("\n");
}

function distance(px, py, [x1, y1, x2, y2]) {
  const dx = x2 - x1, dy = y2 - y1;
  const len = dx * dx + dy * dy;
  const u = len ? Math.max(0, Math.min(1, ((px - x1) * dx + (py - y1) * dy) / len)) : 0;
  return Math.hypot(px - (x1 + u * dx), py - (y1 + u * dy));
}

fig.addEventListener("mousemove", (ev) => {
  const ctm = fig.getScreenCTM();
  if (!ctm) return;
  const pt = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(ctm.inverse());
  const i = L.panels.findIndex((p, k) => pt.y >= p.y0 && pt.y < p.y0 + panelHeight(k));
  let best = null, bestD = 6;
  if (i >= 0) {
    const p = L.panels[i];
    for (const m of p.messages) {
      const dd = distance(pt.x, pt.y, segment(p, m));
      if (dd < bestD) { bestD = dd; best = m; }
    }
    if (best) {
      state.hover = [p, best];
      tip.textContent = recordText(p, best) + "\n" + (lineage(p, best).length > 1 ? "highlighted: every hop of its source record" : "");
      tip.hidden = false;
      tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - 400) + "px";
      tip.style.top = ev.clientY + 14 + "px";
      drawHighlights();
      return;
    }
  }
  if (state.hover) { state.hover = null; drawHighlights(); }
  tip.hidden = true;
});
fig.addEventListener("mouseleave", () => { tip.hidden = true; state.hover = null; drawHighlights(); });

function update() {
  drawCursor();
  drawHighlights();
  markSteps();
  renderInside();
}

L.panels.forEach((p, i) => {
  p.index = i;
  const o = document.createElement("option");
  o.value = String(i);
  o.textContent = p.protocol;
  protoSel.appendChild(o);
});
function fillTasks() {
  const p = L.panels[state.panel];
  taskSel.replaceChildren();
  p.lanes.forEach((n, i) => {
    const o = document.createElement("option");
    o.value = String(i);
    o.textContent = n;
    taskSel.appendChild(o);
  });
  taskSel.value = String(state.task);
}
protoSel.addEventListener("change", () => {
  state.panel = Number(protoSel.value);
  state.step = -1;
  fillTasks();
  renderSteps();
  update();
});
taskSel.addEventListener("change", () => { state.task = Number(taskSel.value); renderInside(); });
slider.addEventListener("input", () => {
  state.t = FROM + (Number(slider.value) / 1000) * (TO - FROM);
  state.step = -1;
  update();
});
let timer = null;
document.getElementById("play").addEventListener("click", (ev) => {
  if (timer) { clearInterval(timer); timer = null; ev.target.textContent = "▶"; return; }
  ev.target.textContent = "❚❚";
  if (state.t >= TO) state.t = FROM;
  timer = setInterval(() => {
    state.t = Math.min(TO, state.t + (TO - FROM) / 200);
    state.step = -1;
    update();
    if (state.t >= TO) { clearInterval(timer); timer = null; ev.target.textContent = "▶"; }
  }, 60);
});

// Start on the task whose barrier waited longest in its queue (the one worth looking inside),
// at the moment its barrier arrived.
(function start() {
  const p = L.panels[0];
  let best = null;
  for (const w of p.waits) if (!best || w[2] - w[1] > best[2] - best[1]) best = w;
  if (best) { state.task = p.channels[best[0]][1]; state.t = best[1] + (best[2] - best[1]) / 2; }
  else if (p.snapshots.length) { state.task = p.snapshots[p.snapshots.length - 1][0]; state.t = p.snapshots[p.snapshots.length - 1][1]; }
  // A link may name the view: #protocol=unaligned&task=agg[0]&t=26.5 (t in ms).
  const want = new URLSearchParams(location.hash.slice(1));
  const pi = L.panels.findIndex((q) => q.protocol === want.get("protocol"));
  if (pi >= 0) { state.panel = pi; protoSel.value = String(pi); }
  const ti = L.panels[state.panel].lanes.indexOf(want.get("task"));
  if (ti >= 0) state.task = ti;
  if (want.has("t") && !Number.isNaN(Number(want.get("t")))) state.t = Math.min(TO, Math.max(FROM, Number(want.get("t")) * 1e6));
  fillTasks();
  renderSteps();
  update();
})();

// `lesson.html#selftest`: exercise the page and leave the outcome on <body data-selftest>, for a
// headless browser's --dump-dom (the test in tests/lesson.rs).
if (location.hash === "#selftest") {
  const fail = [];
  const total = L.panels.reduce((n, p) => n + p.steps.length, 0);
  let checked = 0, highlighted = 0, rows = 0;
  L.panels.forEach((p, i) => {
    protoSel.value = String(i);
    protoSel.dispatchEvent(new Event("change"));
    if (list.children.length !== p.steps.length) fail.push(p.protocol + ": " + list.children.length + " steps listed of " + p.steps.length);
    const has = (c) => p.messages.some((m) => m[4] === c);
    p.steps.forEach((s, k) => {
      // Steps about diagram elements must light up the element, not only their task's ring.
      const needs = { barrier: 2, barrier_taken: 2, block: 2, unblock: 2, snapshot: 2,
        channel_state: has(1) ? 1 : 0, orphans: has(2) ? 1 : 0, queue_waits: p.waits.length ? 1 : 0 }[s.event];
      if (s.task === null && !needs) return;
      list.children[k].click();
      checked++;
      if (highlightCount() < (needs || 1)) fail.push(p.protocol + " step " + k + " (" + s.event + ") highlights " + highlightCount() + " elements");
      else highlighted++;
      if (!list.children[k].classList.contains("current")) fail.push(p.protocol + " step " + k + " not marked current");
    });
    rows += buf.querySelectorAll("text").length;
  });
  slider.value = "500";
  slider.dispatchEvent(new Event("input"));
  const veil = overlays[0].veil.getAttribute("width");
  if (!(Number(veil) > 0)) fail.push("the slider at half-way dims nothing");
  document.body.dataset.selftest = fail.length ? "fail: " + fail.join("; ") : "ok steps=" + total + " checked=" + checked + " highlighted=" + highlighted + " inside-texts=" + rows;
}
