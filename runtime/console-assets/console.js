// Meridian console: polls the JSON endpoints under /ui/api and draws them.
// Everything shown is set with textContent (never as markup), so key names
// and values cannot inject anything into the page.
"use strict";

const $ = (sel) => document.querySelector(sel);
const POLL_MS = 1000;
let current = null;        // the view shown
let timers = [];
let charts = {};
let lastPoint = 0;
let points = [];
let keysCursor = "0";
let selectedKey = null;    // {key} or {key_hex}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

async function api(path, options) {
  const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
  if (opts.body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(opts.body);
  }
  const r = await fetch(path, opts);
  let body = null;
  try { body = await r.json(); } catch (_) { body = null; }
  if (r.status === 401 && !path.endsWith("/login")) {
    showLogin();
  }
  if (!r.ok) {
    const msg = body && body.error ? body.error : ("HTTP " + r.status);
    const err = new Error(msg);
    err.status = r.status;
    throw err;
  }
  return body;
}

function confirmAction(text) {
  const d = $("#confirm");
  $("#confirm-text").textContent = text;
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "yes"), { once: true });
    d.returnValue = "";
    d.showModal();
  });
}

// ---------------------------------------------------------------- session

function showLogin() {
  stopTimers();
  document.querySelectorAll(".view").forEach((v) => { v.hidden = true; });
  $("#tabs").hidden = true;
  $("#whoami").hidden = true;
  $("#login-view").hidden = false;
}

function loggedIn(who) {
  $("#login-view").hidden = true;
  $("#tabs").hidden = false;
  $("#whoami").hidden = false;
  $("#user-name").textContent = who.user;
  $("#region-title").textContent = who.region + " (id " + who.region_id + ")";
  document.title = "Meridian console: " + who.region;
  show(current || "regions");
}

async function start() {
  document.querySelectorAll("#tabs button").forEach((b) => {
    b.addEventListener("click", () => show(b.dataset.view));
  });
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#login-error").textContent = "";
    try {
      const who = await api("/ui/api/login", { method: "POST", body: {
        username: $("#login-user").value, password: $("#login-password").value } });
      $("#login-password").value = "";
      loggedIn(who);
    } catch (e) {
      $("#login-error").textContent = e.message;
    }
  });
  $("#logout").addEventListener("click", async () => {
    await api("/ui/api/logout", { method: "POST", body: {} }).catch(() => {});
    showLogin();
  });
  $("#scan-form").addEventListener("submit", (ev) => { ev.preventDefault(); scan(true); });
  $("#deploy-form").addEventListener("submit", deploy);
  $("#scan-more").addEventListener("click", () => scan(false));
  $("#ttl-set").addEventListener("click", () => {
    const ms = parseInt($("#ttl-input").value, 10);
    if (ms > 0) edit({ op: "expire", ttl_ms: ms }, "Expire this key in " + ms + " ms?");
  });
  $("#ttl-persist").addEventListener("click", () => edit({ op: "persist" }, "Remove this key's TTL?"));
  $("#key-delete").addEventListener("click", async () => {
    if (await edit({ op: "delete" }, "Delete this key in every region?")) {
      $("#key-detail").hidden = true;
      selectedKey = null;
      scan(true);
    }
  });
  try {
    loggedIn(await api("/ui/api/session"));
  } catch (e) {
    showLogin();
  }
}

// ---------------------------------------------------------------- views

function stopTimers() {
  timers.forEach(clearInterval);
  timers = [];
}

// Runs `fn` now and every POLL_MS while the tab is visible.
function every(fn) {
  fn();
  timers.push(setInterval(() => { if (!document.hidden) fn(); }, POLL_MS));
}

function show(view) {
  stopTimers();
  current = view;
  document.querySelectorAll("#tabs button").forEach((b) => {
    b.classList.toggle("active", b.dataset.view === view);
  });
  document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== view + "-view"; });
  if (view === "regions") every(refreshRegions);
  if (view === "charts") { setupCharts(); every(refreshCharts); }
  if (view === "keys") { if (!$("#keys-table tbody").childElementCount) scan(true); }
  if (view === "modules") every(refreshModules);
}

// ---------------------------------------------------------------- regions

function ago(ms) {
  if (ms === null || ms === undefined) return "never";
  if (ms < 1000) return ms + " ms ago";
  return (ms / 1000).toFixed(1) + " s ago";
}

async function refreshRegions() {
  let v;
  try { v = await api("/ui/api/regions"); } catch (_) { return; }
  const card = $("#region-card");
  card.replaceChildren(el("h2", v.region.name + " (id " + v.region.id + ")"));
  const dl = el("dl");
  for (const [k, val] of [["Commands/s", v.region.ops_per_sec], ["Keys", v.region.keys],
    ["Clients", v.region.clients], ["Changes committed", v.region.changes_logged],
    ["Uptime", v.region.uptime_secs + " s"]]) {
    dl.append(el("dt", k), el("dd", val));
  }
  card.append(dl);
  const down = v.links.filter((l) => l.state === "down");
  const banner = $("#partition-banner");
  banner.hidden = down.length === 0;
  banner.textContent = down.length
    ? "Partition: no link to " + down.map((l) => l.name).join(", ") + " — changes queue up here until it heals."
    : "";
  const tbody = $("#links-table tbody");
  tbody.replaceChildren();
  for (const l of v.links) {
    const tr = el("tr");
    tr.dataset.peer = l.name;
    tr.append(el("td", l.name + " (id " + l.id + ")"), el("td", l.state, "state-" + l.state),
      el("td", l.ops_lag), el("td", l.ms_lag), el("td", ago(l.last_contact_ms)),
      el("td", l.changes_in_per_sec.toFixed(1)), el("td", l.addr));
    tbody.append(tr);
  }
  $("#no-peers").hidden = v.links.length > 0;
  drawMesh(v);
}

function drawMesh(v) {
  const svg = $("#mesh");
  const ns = "http://www.w3.org/2000/svg";
  const node = (tag, attrs) => {
    const e = document.createElementNS(ns, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  };
  svg.replaceChildren();
  // Every region on one circle, this one first (at the top).
  const r = 100, n = v.links.length + 1;
  const at = (i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
    return [200 + r * Math.cos(a), 150 + r * Math.sin(a) + (n > 1 ? 10 : 0)];
  };
  const [cx, cy] = at(0);
  const spots = v.links.map((l, i) => {
    const [x, y] = at(i + 1);
    return { l, x, y };
  });
  for (const s of spots) {
    const line = node("line", { x1: cx, y1: cy, x2: s.x, y2: s.y, class: "link-" + s.l.state });
    line.dataset.peer = s.l.name;
    const title = document.createElementNS(ns, "title");
    title.textContent = s.l.name + ": " + s.l.state + ", lag " + s.l.ops_lag + " changes / " + s.l.ms_lag + " ms";
    line.append(title);
    svg.append(line);
  }
  svg.append(node("circle", { cx, cy, r: 22, class: "self" }));
  const me = node("text", { x: cx, y: cy - 30 });
  me.textContent = v.region.name;
  svg.append(me);
  for (const s of spots) {
    svg.append(node("circle", { cx: s.x, cy: s.y, r: 16 }));
    const t = node("text", { x: s.x, y: s.y + 32 });
    t.textContent = s.l.name + " (" + s.l.state + ")";
    svg.append(t);
  }
}

// ---------------------------------------------------------------- charts

const CHARTS = {
  ops: { el: "#chart-ops" },
  hits: { el: "#chart-hits", series: [["hit ratio", (p) => p.hit_ratio]] },
  memory: { el: "#chart-memory", series: [["used_memory", (p) => p.used_memory], ["dataset", (p) => p.dataset_bytes]] },
  evictions: { el: "#chart-evictions", series: [["evicted/s", (p) => p.evictions], ["expired/s", (p) => p.expirations]] },
  guests: { el: "#chart-guests", series: [["calls/s", (p) => p.guest_calls], ["errors/s", (p) => p.guest_errors]] },
  locks: { el: "#chart-locks", series: [["grants/s", (p) => p.lock_grants]] },
  lag: { el: "#chart-lag" },
};
const COLORS = ["#2b6cb0", "#e02424", "#1f9d55", "#d69e2e", "#805ad5", "#dd6b20", "#319795", "#b83280", "#718096", "#2c5282"];

function bytes(n) {
  const units = [["G", 1 << 30], ["M", 1 << 20], ["K", 1 << 10]];
  for (const [u, size] of units) if (Math.abs(n) >= size) return (n / size).toFixed(1) + u;
  return String(n);
}

// The keys `field` (ops by family, lag by region) takes in any point.
function keysOf(field) {
  const set = new Set();
  for (const p of points) for (const f in p[field]) set.add(f);
  return Array.from(set).sort();
}

function seriesOf(name) {
  if (name === "ops") return keysOf("ops").map((f) => [f, (p) => (p.ops[f] || 0)]);
  if (name === "lag") return keysOf("lag_ms").map((r) => [r, (p) => (p.lag_ms[r] ?? null)]);
  return CHARTS[name].series;
}

function makeChart(name) {
  const box = $(CHARTS[name].el);
  box.replaceChildren();
  const series = seriesOf(name);
  const opts = {
    width: Math.max(box.clientWidth || 440, 300),
    height: 180,
    series: [{}].concat(series.map(([label], i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2 }))),
    axes: [{}, { size: 70, values: name === "memory" ? (u, vals) => vals.map(bytes) : undefined }],
    scales: name === "hits" ? { y: { range: [0, 1] } } : {},
  };
  charts[name] = { plot: new uPlot(opts, dataOf(series), box), labels: series.map((s) => s[0]).join(",") };
}

function dataOf(series) {
  const xs = points.map((p) => p.t / 1000);
  return [xs].concat(series.map(([, get]) => points.map(get)));
}

function setupCharts() {
  if (typeof uPlot === "undefined") return;
  for (const name in CHARTS) if (!charts[name]) makeChart(name);
}

async function refreshCharts() {
  let r;
  try { r = await api("/ui/api/stats?since=" + lastPoint); } catch (_) { return; }
  if (r.points.length) {
    points = points.concat(r.points).slice(-300);
    lastPoint = points[points.length - 1].t;
  }
  if (typeof uPlot === "undefined") return;
  for (const name in CHARTS) {
    const series = seriesOf(name);
    const labels = series.map((s) => s[0]).join(",");
    if (!charts[name] || charts[name].labels !== labels) makeChart(name);
    else charts[name].plot.setData(dataOf(series));
  }
}

// ---------------------------------------------------------------- keys

function keyRef(k) {
  return k.hex ? { key_hex: k.hex } : { key: k.name };
}

function keyQuery(ref) {
  return ref.key_hex !== undefined ? "key_hex=" + encodeURIComponent(ref.key_hex)
    : "key=" + encodeURIComponent(ref.key);
}

async function scan(fresh) {
  $("#keys-error").textContent = "";
  if (fresh) { keysCursor = "0"; $("#keys-table tbody").replaceChildren(); }
  const pattern = $("#scan-pattern").value || "*";
  let page;
  try {
    page = await api("/ui/api/keys?pattern=" + encodeURIComponent(pattern) + "&cursor=" + keysCursor + "&count=200");
  } catch (e) { $("#keys-error").textContent = e.message; return; }
  keysCursor = page.cursor;
  $("#scan-more").hidden = page.cursor === "0";
  const tbody = $("#keys-table tbody");
  for (const k of page.keys) {
    const tr = el("tr");
    tr.dataset.key = k.name;
    tr.append(el("td", k.name), el("td", k.type === null ? "(no access)" : k.type));
    tr.addEventListener("click", () => {
      tbody.querySelectorAll("tr.selected").forEach((r) => r.classList.remove("selected"));
      tr.classList.add("selected");
      openKey(keyRef(k));
    });
    tbody.append(tr);
  }
}

async function openKey(ref) {
  selectedKey = ref;
  $("#keys-error").textContent = "";
  let d;
  try { d = await api("/ui/api/key?" + keyQuery(ref)); } catch (e) {
    $("#keys-error").textContent = e.message;
    $("#key-detail").hidden = true;
    return;
  }
  $("#key-detail").hidden = false;
  $("#key-name").textContent = d.name;
  const meta = $("#key-meta");
  meta.replaceChildren();
  const rows = [["Type", d.type], ["TTL", d.ttl_ms === null ? "none" : d.ttl_ms + " ms"],
    ["Length", d.length === null ? "—" : d.length], ["Encoding", d.encoding || "—"],
    ["Memory", d.memory_bytes === null ? "—" : d.memory_bytes + " bytes"]];
  if (d.origin) {
    rows.push(["Last write", "by " + d.origin.region_name + " (id " + d.origin.region_id + ") at " +
      new Date(d.origin.written_at_ms).toISOString() + ", as seen in " + d.origin.seen_in]);
  }
  for (const [k, v] of rows) meta.append(el("dt", k), el("dd", v));
  renderValue(d);
}

// Runs an edit after confirmation; true if it was made.
async function edit(change, question) {
  if (!selectedKey) return false;
  if (!(await confirmAction(question))) return false;
  try {
    await api("/ui/api/key", { method: "POST", body: Object.assign({}, selectedKey, change) });
  } catch (e) {
    $("#keys-error").textContent = e.message;
    return false;
  }
  if (change.op !== "delete") await openKey(selectedKey);
  return true;
}

function button(text, onClick, cls) {
  const b = el("button", text, cls);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function input(placeholder, cls) {
  const i = el("input", null, cls);
  i.placeholder = placeholder;
  return i;
}

function renderValue(d) {
  const box = $("#key-value");
  box.replaceChildren();
  if (d.truncated) box.append(el("p", "Showing the first " + (Array.isArray(d.value) ? d.value.length : "") + " of " + d.length + "."));
  const table = (heads, rows) => {
    const t = el("table", null, "value-table");
    const hr = el("tr");
    heads.forEach((h) => hr.append(el("th", h)));
    t.append(hr);
    rows.forEach((r) => t.append(r));
    return t;
  };
  if (d.type === "string") {
    const ta = el("textarea", null);
    ta.id = "string-value";
    ta.value = d.value;
    box.append(ta, button("Save", () => edit({ op: "set", value: ta.value }, "Replace this value?"), "save"));
  } else if (d.type === "hash") {
    const rows = d.value.map(([f, v]) => {
      const tr = el("tr");
      tr.append(el("td", f), el("td", v),
        el("td").appendChild(button("Delete", () => edit({ op: "hdel", field: f }, "Delete field " + f + "?"))).parentNode);
      return tr;
    });
    const f = input("field"), v = input("value");
    box.append(table(["Field", "Value", ""], rows), el("div", null, "row"));
    box.lastChild.append(f, v, button("Set field", () => edit({ op: "hset", field: f.value, value: v.value }, "Set field " + f.value + "?")));
  } else if (d.type === "set") {
    const rows = d.value.map((m) => {
      const tr = el("tr");
      tr.append(el("td", m), el("td").appendChild(button("Remove", () => edit({ op: "srem", member: m }, "Remove " + m + "?"))).parentNode);
      return tr;
    });
    const m = input("member");
    box.append(table(["Member", ""], rows), el("div", null, "row"));
    box.lastChild.append(m, button("Add", () => edit({ op: "sadd", member: m.value }, "Add " + m.value + "?")));
  } else if (d.type === "zset") {
    const rows = d.value.map(([m, s]) => {
      const tr = el("tr");
      tr.append(el("td", m), el("td", s), el("td").appendChild(button("Remove", () => edit({ op: "zrem", member: m }, "Remove " + m + "?"))).parentNode);
      return tr;
    });
    const m = input("member"), s = input("score");
    box.append(table(["Member", "Score", ""], rows), el("div", null, "row"));
    box.lastChild.append(m, s, button("Add / rescore", () => edit({ op: "zadd", member: m.value, score: parseFloat(s.value) }, "Set " + m.value + " to " + s.value + "?")));
  } else if (d.type === "list") {
    const rows = d.value.map((item, i) => {
      const tr = el("tr");
      tr.append(el("td", i), el("td", item), el("td").appendChild(button("Remove", () => edit({ op: "lrem", value: item }, "Remove the first " + item + "?"))).parentNode);
      return tr;
    });
    const v = input("item");
    box.append(table(["#", "Item", ""], rows), el("div", null, "row"));
    box.lastChild.append(v, button("Push", () => edit({ op: "rpush", value: v.value }, "Append " + v.value + "?")));
  } else if (d.type === "document") {
    const ta = el("textarea", null);
    ta.id = "document-value";
    ta.value = JSON.stringify(d.value, null, 2);
    box.append(ta, button("Save", () => edit({ op: "doc_set", path: "$", json: ta.value }, "Replace this document?"), "save"));
  } else {
    box.append(el("pre", JSON.stringify(d.value, null, 2)));
  }
}

// ---------------------------------------------------------------- modules

async function refreshModules() {
  let list;
  try { list = await api("/ui/api/modules"); } catch (e) { $("#modules-error").textContent = e.message; return; }
  $("#modules-error").textContent = "";
  const tbody = $("#modules-table tbody");
  tbody.replaceChildren();
  for (const m of list) {
    const tr = el("tr");
    tr.dataset.module = m.name;
    const fns = (m.functions || []).map((f) => f.name).join(", ");
    const source = m.source === "deployed"
      ? "deployed by region " + m.deployed_by_region + " at " + new Date(m.deployed_at_ms).toISOString()
      : "config file";
    const actions = el("td");
    if (m.source === "deployed") {
      actions.append(button("Delete", async () => {
        if (!(await confirmAction("Delete module " + m.name + " from every region?"))) return;
        try {
          await api("/ui/api/modules/" + encodeURIComponent(m.name), { method: "DELETE" });
          $("#deploy-status").textContent = "Deleted " + m.name + ".";
        } catch (e) { $("#modules-error").textContent = e.message; }
        refreshModules();
      }, "danger"));
    }
    tr.append(el("td", m.name), el("td", m.kind), el("td", m.route || fns), el("td", source),
      el("td", m.invocations === undefined ? "—" : m.invocations),
      el("td", m.errors === undefined ? "—" : m.errors),
      el("td", m.p99_ms === undefined || m.p99_ms === null ? "—" : m.p99_ms.toFixed(2)),
      el("td", m.loaded ? "yes" : ("no" + (m.error ? ": " + m.error : ""))), actions);
    tbody.append(tr);
  }
}

async function deploy(ev) {
  ev.preventDefault();
  $("#modules-error").textContent = "";
  const name = $("#deploy-name").value.trim();
  const file = $("#deploy-file").files[0];
  if (!name || !file) return;
  const params = new URLSearchParams();
  if ($("#deploy-kind").value) params.set("kind", $("#deploy-kind").value);
  if ($("#deploy-route").value) params.set("route", $("#deploy-route").value);
  const replacing = Array.from(document.querySelectorAll("#modules-table tbody tr"))
    .some((tr) => tr.dataset.module === name);
  if (replacing && !(await confirmAction("Replace module " + name + " in every region?"))) return;
  $("#deploy-status").textContent = "Deploying " + name + "…";
  const q = params.toString();
  const r = await fetch("/ui/api/modules/" + encodeURIComponent(name) + (q ? "?" + q : ""), {
    method: "PUT", credentials: "same-origin",
    headers: { "Content-Type": "application/wasm" }, body: await file.arrayBuffer() });
  let body = null;
  try { body = await r.json(); } catch (_) { body = null; }
  if (!r.ok) {
    $("#deploy-status").textContent = "";
    $("#modules-error").textContent = (body && body.error) || ("HTTP " + r.status);
    return;
  }
  $("#deploy-status").textContent = (r.status === 201 ? "Deployed " : "Replaced ") + body.name +
    (body.route ? " at " + body.route : "") + ".";
  refreshModules();
}

document.addEventListener("DOMContentLoaded", start);
