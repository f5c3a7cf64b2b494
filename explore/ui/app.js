// The ingestd explorer: one page over the read API (/api/v1/*). Its whole
// state lives in the URL's query string, so a link reproduces the view.
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE = 50;

// state is what the URL holds.
let state = {};
let tailSource = null;

function readURL() {
  const p = new URLSearchParams(location.search);
  state = {
    range: p.get("range") || (p.get("from") ? "abs" : "24h"),
    from: p.get("from") || "",
    to: p.get("to") || "",
    where: p.get("where") || "",
    by: p.get("by") || "",
    stats: p.get("stats") || "",
    offset: parseInt(p.get("offset") || "0", 10) || 0,
    tail: p.get("tail") === "1",
  };
}

function writeURL() {
  const p = new URLSearchParams();
  if (state.range === "abs") {
    p.set("from", state.from);
    p.set("to", state.to);
  } else {
    p.set("range", state.range);
  }
  for (const k of ["where", "by", "stats"]) if (state[k]) p.set(k, state[k]);
  if (state.offset) p.set("offset", String(state.offset));
  if (state.tail) p.set("tail", "1");
  history.replaceState(null, "", "?" + p.toString());
}

// span turns the state's range into absolute [from, to) times.
function span() {
  if (state.range === "abs") return [new Date(state.from), new Date(state.to)];
  const now = new Date();
  const to = new Date(Math.ceil(now.getTime() / 60000) * 60000 + 60000);
  const units = { m: 60e3, h: 3600e3, d: 86400e3 };
  const m = /^(\d+)([mhd])$/.exec(state.range);
  if (m) return [new Date(to.getTime() - m[1] * units[m[2]]), to];
  const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  if (state.range === "month") return [first, new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1))];
  return [new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)), first];
}

const iso = (d) => d.toISOString().replace(".000Z", "Z");

function fromForm() {
  state.range = $("range").value;
  if (state.range === "abs") {
    state.from = $("from").value.trim();
    state.to = $("to").value.trim();
  }
  state.where = $("where").value.trim();
  state.by = $("by").value.trim();
  state.stats = $("stats").value.trim();
  state.tail = $("tail").checked;
}

function toForm() {
  $("range").value = state.range;
  const [from, to] = span();
  $("from").value = state.range === "abs" ? state.from : iso(from);
  $("to").value = state.range === "abs" ? state.to : iso(to);
  $("where").value = state.where;
  $("by").value = state.by;
  $("stats").value = state.stats;
  $("tail").checked = state.tail;
}

// api fetches one call of the read API; a refusal shows its message and,
// for the filter, a caret at the mistake's position.
async function api(call, params) {
  const res = await fetch("/api/v1/" + call + "?" + new URLSearchParams(params).toString());
  const text = await res.text();
  if (!res.ok) {
    let err = { error: text };
    try { err = JSON.parse(text); } catch (e) { /* not JSON */ }
    const e = new Error(err.error || res.statusText);
    e.position = err.position;
    e.parameter = err.parameter;
    throw e;
  }
  return { body: text, headers: res.headers };
}

function showError(e) {
  $("error").textContent = e ? e.message : "";
  $("where").classList.toggle("bad", !!(e && e.parameter === "where"));
  $("caret").textContent = e && e.parameter === "where" && e.position >= 0 ? " ".repeat(e.position) + "^" : "";
  if (e && e.parameter === "where" && e.position >= 0) {
    const w = $("where");
    w.focus();
    w.setSelectionRange(e.position, e.position + 1);
  }
}

function base() {
  const [from, to] = span();
  const p = { from: iso(from), to: iso(to) };
  if (state.where) p.where = state.where;
  return p;
}

// run draws the whole view: histogram, fields, groups and records.
async function run() {
  writeURL();
  toForm();
  showError(null);
  const shown = location.search;
  try {
    await Promise.all([drawHits(), drawFields(), drawTable(), drawRecords()]);
  } catch (e) {
    showError(e);
  }
  setTail();
  document.body.dataset.rendered = shown; // the view now shows this URL's state
}

// The histogram: records per bucket as SVG bars; dragging across it zooms.
let hits = [];
async function drawHits() {
  const [from, to] = span();
  const p = base();
  const steps = [60, 300, 900, 3600, 10800, 21600, 43200, 86400];
  const secs = (to - from) / 1000;
  let step = steps[steps.length - 1];
  for (const s of steps) if (secs / s <= 120) { step = s; break; }
  if (step >= 3600) { // whole hours let the daily partials answer
    p.from = iso(new Date(Math.floor(from / 3600e3) * 3600e3));
    p.to = iso(new Date(Math.ceil(to / 3600e3) * 3600e3));
  }
  p.step = step + "s";
  const r = await api("hits", p);
  hits = JSON.parse(r.body).hits;
  const svg = $("chart");
  const W = svg.clientWidth || 800, H = 140, pad = 18;
  const max = Math.max(1, ...hits.map((h) => h.count));
  const bw = W / Math.max(1, hits.length);
  let total = 0;
  let html = "";
  hits.forEach((h, i) => {
    total += h.count;
    const bh = (h.count / max) * (H - pad);
    html += `<rect class="bar" x="${(i * bw).toFixed(1)}" y="${(H - pad - bh).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${bh.toFixed(1)}" data-time="${h.time}" data-count="${h.count}"><title>${h.time}: ${h.count}</title></rect>`;
  });
  if (hits.length) {
    html += `<text x="2" y="${H - 4}">${hits[0].time}</text><text x="${W - 2}" y="${H - 4}" text-anchor="end">${hits[hits.length - 1].time}</text>`;
  }
  html += `<rect class="sel" id="sel" x="0" y="0" width="0" height="${H - pad}"></rect>`;
  svg.innerHTML = html;
  $("histinfo").textContent = `${total.toLocaleString("en")} records, ${hits.length} buckets of ${p.step} (${r.headers.get("X-Ingestd-Answered-From") || ""})`;
  svg.dataset.total = String(total);
}

function setupDrag() {
  const svg = $("chart");
  let x0 = null;
  const xOf = (ev) => ev.clientX - svg.getBoundingClientRect().left;
  svg.addEventListener("mousedown", (ev) => { x0 = xOf(ev); ev.preventDefault(); });
  svg.addEventListener("mousemove", (ev) => {
    if (x0 === null) return;
    const x = xOf(ev), sel = $("sel");
    sel.setAttribute("x", String(Math.min(x0, x)));
    sel.setAttribute("width", String(Math.abs(x - x0)));
  });
  window.addEventListener("mouseup", (ev) => {
    if (x0 === null) return;
    const x1 = xOf(ev), a = Math.min(x0, x1), b = Math.max(x0, x1);
    x0 = null;
    if (b - a < 3 || hits.length === 0) return;
    const W = svg.clientWidth, bw = W / hits.length;
    const i = Math.max(0, Math.floor(a / bw)), j = Math.min(hits.length - 1, Math.floor(b / bw));
    const step = hits.length > 1 ? new Date(hits[1].time) - new Date(hits[0].time) : 3600e3;
    state.range = "abs";
    state.from = hits[i].time;
    state.to = iso(new Date(new Date(hits[j].time).getTime() + step));
    state.offset = 0;
    run();
  });
}

// The field sidebar: paths by share; a click shows the top values, a click
// on a value adds it to the filter.
async function drawFields() {
  const r = await api("fields", base());
  const ans = JSON.parse(r.body);
  const ul = $("fieldlist");
  ul.textContent = "";
  for (const f of ans.fields) {
    const li = document.createElement("li");
    li.className = "field";
    li.dataset.path = f.path;
    const head = document.createElement("span");
    const name = document.createElement("b");
    name.textContent = f.path;
    const share = document.createElement("span");
    share.className = "share";
    share.textContent = `${(f.share * 100).toFixed(f.share < 0.1 ? 1 : 0)}%` + (f.distinct !== undefined ? ` · ${f.distinct} distinct` : "");
    head.append(name, share);
    li.append(head);
    const ol = document.createElement("ol");
    ol.hidden = true;
    for (const v of f.top || []) {
      const vi = document.createElement("li");
      vi.textContent = `${v.value} (${v.records})`;
      vi.title = v.where;
      vi.dataset.where = v.where;
      vi.addEventListener("click", () => addFilter(v.where));
      ol.append(vi);
    }
    li.append(ol);
    head.addEventListener("click", () => { ol.hidden = !ol.hidden; });
    ul.append(li);
  }
}

function addFilter(expr) {
  state.where = state.where ? `(${state.where}) and ${expr}` : expr;
  state.offset = 0;
  run();
}

// The group-by table: the query API's table with a bar per row.
async function drawTable() {
  const t = $("table");
  t.textContent = "";
  if (!state.by && !state.stats) return;
  const p = base();
  if (state.by) p.by = state.by;
  if (state.stats) p.stats = state.stats;
  p.limit = "50";
  const r = await api("query", p);
  const rows = JSON.parse(r.body);
  if (!rows.length) return;
  const cols = Object.keys(rows[0]);
  const countCol = cols.includes("count") ? "count" : cols[cols.length - 1];
  const max = Math.max(1, ...rows.map((x) => Number(x[countCol]) || 0));
  const head = t.insertRow();
  for (const c of cols.concat([""])) {
    const th = document.createElement("th");
    th.textContent = c;
    head.append(th);
  }
  for (const row of rows) {
    const tr = t.insertRow();
    for (const c of cols) {
      const td = tr.insertCell();
      const v = row[c];
      td.textContent = v === null ? "null" : typeof v === "number" ? v.toLocaleString("en", { maximumFractionDigits: 3 }) : String(v);
      if (typeof v === "number") td.className = "num";
      td.dataset.col = c;
    }
    const bar = tr.insertCell();
    bar.className = "barcell";
    const d = document.createElement("div");
    d.className = "bar";
    d.style.width = `${((Number(row[countCol]) || 0) / max) * 100}%`;
    bar.append(d);
  }
}

// The records: newest first, PAGE a page, each expandable to pretty JSON.
async function drawRecords() {
  const p = base();
  p.limit = String(PAGE);
  p.offset = String(state.offset);
  p.format = "ndjson";
  const r = await api("query", p);
  const lines = r.body.split("\n").filter((l) => l);
  const ol = $("reclist");
  ol.textContent = "";
  for (const l of lines) ol.append(recordItem(l, false));
  $("recinfo").textContent = lines.length ? `records ${state.offset + 1}–${state.offset + lines.length}, newest first` : "no records";
  $("older").disabled = lines.length < PAGE;
  $("newer").disabled = state.offset === 0;
}

function recordItem(line, live) {
  const li = document.createElement("li");
  li.textContent = line;
  if (live) li.className = "live";
  li.addEventListener("click", () => {
    const open = li.classList.toggle("open");
    try { li.textContent = open ? JSON.stringify(JSON.parse(line), null, 2) : line; } catch (e) { li.textContent = line; }
  });
  return li;
}

// Live tail: server-sent events of the records as they become durable.
function setTail() {
  if (tailSource) { tailSource.close(); tailSource = null; }
  if (!state.tail) return;
  const p = state.where ? "?" + new URLSearchParams({ where: state.where }).toString() : "";
  tailSource = new EventSource("/api/v1/tail" + p);
  tailSource.onmessage = (ev) => {
    const ol = $("reclist");
    ol.insertBefore(recordItem(ev.data, true), ol.firstChild);
    while (ol.children.length > 500) ol.removeChild(ol.lastChild);
  };
}

document.addEventListener("DOMContentLoaded", () => {
  readURL();
  $("q").addEventListener("submit", (ev) => { ev.preventDefault(); fromForm(); state.offset = 0; run(); });
  $("g").addEventListener("submit", (ev) => { ev.preventDefault(); fromForm(); run(); });
  $("range").addEventListener("change", () => {
    if ($("range").value === "abs") { state.range = "abs"; state.from = $("from").value; state.to = $("to").value; return; }
    fromForm(); state.offset = 0; run();
  });
  $("tail").addEventListener("change", () => { state.tail = $("tail").checked; writeURL(); setTail(); });
  $("older").addEventListener("click", () => { state.offset += PAGE; writeURL(); drawRecords().catch(showError); });
  $("newer").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); writeURL(); drawRecords().catch(showError); });
  setupDrag();
  run();
});
