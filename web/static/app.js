// The what-if page: controls → a debounced replay in a Web Worker → metrics and charts; searches
// on a pool of workers with progress and Cancel; the scenario (config + seed) in the URL.
import init, {
  SearchDriver,
  check_config,
  default_config,
  default_objective,
  draw_chart,
  last_panic,
  version,
} from "./pkg/flotilla_web.js";

const $ = (id) => document.getElementById(id);
const DEFAULT_SEED = 1;
const DEFAULT_DAYS = 7;

// Exposed for the browser tests and for curious users (read only by convention).
const app = (window.flotilla = {
  ready: false,
  state: null,
  lastResult: null,
  replays: 0,
  timings: { firstResultMs: null, lastReplayMs: null, lastRoundTripMs: null },
  search: { running: false, done: false, cancelled: false, evaluated: 0, lastSummary: null, compared: false },
  errors: {},
  // Replays the current scenario again (the tests time a replay of a cached scenario with it).
  replayNow: () => {
    wanted = true;
    pump();
  },
  // True while a replay is running or one is waiting to start.
  busy: () => inflight || wanted || replayTimer !== null,
});

let wasmModule = null;
let defaults = {};
let defaultObjective = {};
const state = { seed: DEFAULT_SEED, days: DEFAULT_DAYS, config: {} };
app.state = state;
const inputs = { trace: null, prices: [] };

// ---------------------------------------------------------------- errors and status

function showError(key, message) {
  app.errors[key] = message;
  renderErrors();
}
function clearError(key) {
  if (key in app.errors) {
    delete app.errors[key];
    renderErrors();
  }
}
function renderErrors() {
  const box = $("errors");
  box.replaceChildren();
  for (const [key, message] of Object.entries(app.errors)) {
    const div = document.createElement("div");
    div.className = "error";
    div.dataset.key = key;
    const pre = document.createElement("pre");
    pre.textContent = message;
    const b = document.createElement("button");
    b.type = "button";
    b.className = "small";
    b.textContent = "Dismiss";
    b.setAttribute("aria-label", "Dismiss this message");
    b.onclick = () => clearError(key);
    div.append(pre, b);
    box.append(div);
  }
}
// A message for an exception from the page's own wasm calls: a panic (a bug) traps as a bare
// "unreachable", so its message is fetched from the panic hook.
function why(e) {
  if (e instanceof WebAssembly.RuntimeError) {
    let m = "";
    try {
      m = last_panic();
    } catch (_) {
      // nothing more to say
    }
    return `the simulator crashed (a bug): ${m || e.message}`;
  }
  return (e && e.message) || String(e);
}

function status(text) {
  $("status").textContent = text;
}
window.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  showError("page", `Something went wrong: ${(e.reason && e.reason.message) || e.reason}`);
});
window.addEventListener("error", (e) => {
  showError("page", `Something went wrong: ${e.message}`);
});

// ---------------------------------------------------------------- workers

class SimWorker {
  constructor(name) {
    this.name = name;
    this.worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name });
    this.next = 1;
    this.pending = new Map();
    this.dead = null;
    this.worker.onmessage = (e) => {
      const m = e.data;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m);
      else {
        const err = new Error(m.error);
        err.fatal = !!m.fatal;
        p.reject(err);
      }
    };
    this.worker.onerror = (e) => {
      e.preventDefault();
      this.fail(new Error(`the ${name} worker stopped: ${e.message || "it could not start"}`));
    };
  }
  call(type, payload = {}) {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, type, ...payload });
    });
  }
  fail(err) {
    this.dead = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
  terminate(reason) {
    this.worker.terminate();
    this.fail(reason || new Error(`the ${this.name} worker was stopped`));
  }
}

// A worker with the current inputs loaded.
async function startWorker(name) {
  const w = new SimWorker(name);
  await w.call("init", { module: wasmModule });
  if (inputs.trace) await w.call("trace", { name: inputs.trace.name, bytes: inputs.trace.bytes });
  for (const p of inputs.prices) {
    await w.call("prices", { name: p.name, bytes: p.bytes, config: state.config });
  }
  return w;
}

let sim = null; // the replay worker

async function restartSim() {
  if (sim) sim.terminate();
  sim = await startWorker("replay");
}

// ---------------------------------------------------------------- config state

function clone(v) {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}
function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}
function get(key) {
  return key in state.config ? state.config[key] : defaults[key];
}
function set(key, value, { replay = true } = {}) {
  if (same(value, defaults[key])) delete state.config[key];
  else state.config[key] = clone(value);
  if (replay) changed();
}
function request() {
  return { config: clone(state.config), seed: state.seed, days: state.days };
}

let replayTimer = null;
function changed(delay = 180) {
  writeUrl();
  clearTimeout(replayTimer);
  replayTimer = setTimeout(() => {
    replayTimer = null;
    wanted = true;
    pump();
  }, delay);
}

// ---------------------------------------------------------------- URL state

function b64url(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function unb64url(s) {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}
function encodeState() {
  const p = new URLSearchParams();
  if (state.seed !== DEFAULT_SEED) p.set("seed", String(state.seed));
  if (state.days !== DEFAULT_DAYS) p.set("days", String(state.days));
  if (Object.keys(state.config).length) p.set("config", b64url(JSON.stringify(state.config)));
  return p.toString();
}
function writeUrl() {
  const h = encodeState();
  const url = location.pathname + location.search + (h ? "#" + h : "");
  if (url !== location.pathname + location.search + location.hash) history.replaceState(null, "", url);
}
function readUrl() {
  const p = new URLSearchParams(location.hash.slice(1));
  const problems = [];
  const int = (name, lo, hi, dflt) => {
    const v = p.get(name);
    if (v === null) return dflt;
    if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) {
      problems.push(`${name} must be a whole number ${lo}-${hi} (got "${v}")`);
      return dflt;
    }
    return Number(v);
  };
  state.seed = int("seed", 0, Number.MAX_SAFE_INTEGER, DEFAULT_SEED);
  state.days = int("days", 1, 366, DEFAULT_DAYS);
  state.config = {};
  const c = p.get("config");
  if (c) {
    try {
      state.config = JSON.parse(check_config("the link's config", unb64url(c)));
    } catch (e) {
      problems.push(e.message || String(e));
    }
  }
  if (problems.length) showError("link", `This link's scenario could not be used as is (defaults used instead):\n${problems.join("\n")}`);
  else clearError("link");
}

// ---------------------------------------------------------------- controls

const sliders = {
  delay_webhook_event: (v) => `${v} s`,
  runners_maximum_count: (v) => `${v}`,
};

function minRunDefault() {
  return get("runner_os") === "windows" ? 15 : 5;
}

function syncControls() {
  $("seed").value = state.seed;
  $("days").value = state.days;
  $("days").disabled = !!inputs.trace;
  $("aws_region").value = get("aws_region");
  for (const [key, fmt] of Object.entries(sliders)) {
    const el = $(key);
    const v = get(key);
    if (Number(el.max) < v) el.max = String(v);
    el.value = v;
    $(key + "-out").value = fmt(v);
  }
  const mr = get("minimum_running_time_in_minutes");
  const mrEl = $("minimum_running_time_in_minutes");
  if (mr !== null && Number(mrEl.max) < mr) mrEl.max = String(mr);
  mrEl.value = mr === null ? minRunDefault() : mr;
  $("minimum_running_time_in_minutes-out").value = mr === null ? `OS default (${minRunDefault()} min)` : `${mr} min`;
  $("minrun-default").disabled = mr === null;
  $("enable_ephemeral_runners").checked = get("enable_ephemeral_runners");
  $("instance_target_capacity_type").value = get("instance_target_capacity_type");
  $("instance_allocation_strategy").value = get("instance_allocation_strategy");
  $("instance_allocation_strategy").disabled = get("instance_target_capacity_type") === "on-demand";
  $("enable_organization_runners").checked = get("enable_organization_runners");
  $("pool_runner_owner").value = get("pool_runner_owner") || "";
  const pool = get("pool_config")[0];
  $("pool_size").value = pool ? pool.size : 0;
  $("pool_schedule").value = pool ? pool.schedule_expression : poolScheduleDefault;
  renderIdle();
  renderTypes();
}

const poolScheduleDefault = "cron(*/5 7-18 ? * MON-FRI *)";

function bindControls() {
  for (const [key, fmt] of Object.entries(sliders)) {
    $(key).addEventListener("input", () => {
      const v = Number($(key).value);
      $(key + "-out").value = fmt(v);
      set(key, v);
    });
  }
  $("minimum_running_time_in_minutes").addEventListener("input", () => {
    const v = Number($("minimum_running_time_in_minutes").value);
    $("minimum_running_time_in_minutes-out").value = `${v} min`;
    $("minrun-default").disabled = false;
    set("minimum_running_time_in_minutes", v);
  });
  $("minrun-default").addEventListener("click", () => {
    set("minimum_running_time_in_minutes", null);
    syncControls();
  });
  $("enable_ephemeral_runners").addEventListener("change", (e) => set("enable_ephemeral_runners", e.target.checked));
  $("instance_target_capacity_type").addEventListener("change", (e) => {
    set("instance_target_capacity_type", e.target.value, { replay: false });
    if (e.target.value === "on-demand") {
      // EC2 Fleet: on-demand is lowest-price here; failover only applies to spot.
      set("instance_allocation_strategy", "lowest-price", { replay: false });
      set("enable_runner_on_demand_failover_for_errors", [], { replay: false });
    }
    syncControls();
    changed();
  });
  $("instance_allocation_strategy").addEventListener("change", (e) => set("instance_allocation_strategy", e.target.value));
  $("aws_region").addEventListener("change", (e) => set("aws_region", e.target.value.trim()));
  $("seed").addEventListener("change", (e) => {
    const v = e.target.value.trim();
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
      showError("seed", `Seed: "${v}" is not a whole number 0 or more`);
      return;
    }
    clearError("seed");
    state.seed = Number(v);
    changed(0);
  });
  $("days").addEventListener("change", (e) => {
    const v = Number(e.target.value);
    if (!Number.isInteger(v) || v < 1 || v > 366) {
      showError("days", `Demo days: "${e.target.value}" must be a whole number 1-366`);
      return;
    }
    clearError("days");
    state.days = v;
    changed(0);
  });
  $("enable_organization_runners").addEventListener("change", (e) => set("enable_organization_runners", e.target.checked));
  $("pool_runner_owner").addEventListener("change", (e) => set("pool_runner_owner", e.target.value.trim() || null));
  const setPool = () => {
    const size = Number($("pool_size").value);
    if (!Number.isInteger(size) || size < 0) {
      showError("pool", `Pool size: "${$("pool_size").value}" must be a whole number 0 or more`);
      return;
    }
    clearError("pool");
    if (size > 0) {
      set("pool_config", [{ schedule_expression: $("pool_schedule").value.trim() || poolScheduleDefault, schedule_expression_timezone: null, size }], { replay: false });
      // Pools serve organization runners only.
      if (!get("enable_organization_runners")) set("enable_organization_runners", true, { replay: false });
      if (!get("pool_runner_owner") && app.lastResult && app.lastResult.trace_owner) {
        set("pool_runner_owner", app.lastResult.trace_owner, { replay: false });
      }
      syncControls();
    } else {
      set("pool_config", [], { replay: false });
    }
    changed();
  };
  $("pool_size").addEventListener("change", setPool);
  $("pool_schedule").addEventListener("change", setPool);
  $("idle-add").addEventListener("click", () => {
    const rows = clone(get("idle_config"));
    rows.push({ cron: "* * 7-18 * * 1-5", timeZone: "UTC", idleCount: 1, evictionStrategy: "oldest_first" });
    set("idle_config", rows);
    renderIdle();
    const counts = document.querySelectorAll("#idle-rows input[data-field=idleCount]");
    if (counts.length) counts[counts.length - 1].focus();
  });
  $("types-filter").addEventListener("input", filterTypes);
  $("reset").addEventListener("click", () => {
    state.config = {};
    syncControls();
    changed(0);
  });
}

function renderIdle() {
  const box = $("idle-rows");
  const rows = get("idle_config");
  box.replaceChildren();
  if (!rows.length) {
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = "None: idle runners are removed after the minimum running time.";
    box.append(p);
  }
  rows.forEach((row, i) => {
    const div = document.createElement("div");
    div.className = "idle-row";
    const field = (name, label, value, attrs) => {
      const id = `idle-${i}-${name}`;
      const l = document.createElement("label");
      l.htmlFor = id;
      l.textContent = label;
      const input = document.createElement("input");
      input.id = id;
      input.dataset.field = name;
      input.value = value;
      for (const [k, v] of Object.entries(attrs)) input.setAttribute(k, v);
      input.addEventListener("change", () => {
        const next = clone(get("idle_config"));
        const v = name === "idleCount" ? Number(input.value) : input.value.trim();
        next[i] = { ...next[i], [name]: v };
        set("idle_config", next);
      });
      div.append(l, input);
    };
    field("idleCount", "Count", row.idleCount, { type: "number", min: "0", step: "1", inputmode: "numeric" });
    field("cron", "When", row.cron, { list: "idle-crons", spellcheck: "false", "aria-describedby": "idle-cron-help" });
    field("timeZone", "Zone", row.timeZone || "UTC", { list: "zones", spellcheck: "false" });
    const w = document.createElement("div");
    w.className = "wide";
    const rm = document.createElement("button");
    rm.type = "button";
    rm.className = "small";
    rm.textContent = "Remove";
    rm.setAttribute("aria-label", `Remove idle window ${i + 1}`);
    rm.onclick = () => {
      const next = clone(get("idle_config"));
      next.splice(i, 1);
      set("idle_config", next);
      renderIdle();
      $("idle-add").focus();
    };
    w.append(rm);
    div.append(w);
    box.append(div);
  });
  if (rows.length) {
    const p = document.createElement("p");
    p.className = "hint";
    p.id = "idle-cron-help";
    p.textContent = "Cron with seconds first: sec min hour day month weekday (e.g. * * 7-18 * * 1-5).";
    box.append(p);
  }
}

let knownTypes = []; // [{name, on_demand_usd_per_hour, has_spot}]

function renderTypes() {
  const box = $("types");
  const selected = get("instance_types");
  const byName = new Map(knownTypes.map((t) => [t.name, t]));
  const names = [...selected, ...knownTypes.map((t) => t.name).filter((n) => !selected.includes(n))];
  box.replaceChildren();
  for (const name of names) {
    const t = byName.get(name);
    const label = document.createElement("label");
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.value = name;
    cb.checked = selected.includes(name);
    cb.addEventListener("change", () => {
      const cur = get("instance_types").filter((n) => n !== name);
      if (cb.checked) cur.push(name);
      set("instance_types", cur);
      $("types-count").textContent = `(${cur.length} chosen of ${knownTypes.length} priced)`;
    });
    const span = document.createElement("span");
    span.textContent = name;
    const price = document.createElement("span");
    price.className = "price";
    if (!t) price.textContent = "no prices";
    else if (t.on_demand_usd_per_hour != null)
      price.textContent = `$${t.on_demand_usd_per_hour.toFixed(3)}/h${t.has_spot ? "" : ", no spot"}`;
    else price.textContent = t.has_spot ? "spot only" : "";
    label.append(cb, span, price);
    box.append(label);
  }
  $("types-count").textContent = `(${selected.length} chosen of ${knownTypes.length} priced)`;
  filterTypes();
}

function filterTypes() {
  const f = $("types-filter").value.trim().toLowerCase();
  for (const label of $("types").children) {
    const name = label.querySelector("input").value;
    label.hidden = !!f && !name.toLowerCase().includes(f);
  }
}

// ---------------------------------------------------------------- files

function bindFiles() {
  $("trace-file").addEventListener("change", (e) => {
    if (e.target.files[0]) loadTrace(e.target.files[0]);
    e.target.value = "";
  });
  $("price-files").addEventListener("change", (e) => {
    loadPrices([...e.target.files]);
    e.target.value = "";
  });
  $("config-file").addEventListener("change", (e) => {
    if (e.target.files[0]) loadConfig(e.target.files[0]);
    e.target.value = "";
  });
  $("trace-clear").addEventListener("click", async () => {
    inputs.trace = null;
    await sim.call("clear-trace");
    $("trace-name").textContent = "Built-in demo workload";
    $("trace-clear").hidden = true;
    $("days").disabled = false;
    clearError("trace");
    changed(0);
  });
  $("prices-clear").addEventListener("click", async () => {
    inputs.prices = [];
    await sim.call("clear-prices");
    $("price-names").textContent = "Built-in price table (us-east-1)";
    $("prices-clear").hidden = true;
    clearError("prices");
    changed(0);
  });
  for (const zone of document.querySelectorAll(".drop")) {
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      const files = [...e.dataTransfer.files];
      if (!files.length) return;
      const kind = zone.dataset.kind;
      if (kind === "trace") loadTrace(files[0]);
      else if (kind === "prices") loadPrices(files);
      else loadConfig(files[0]);
    });
  }
  // A file dropped elsewhere would make the browser navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
}

async function loadTrace(file) {
  status(`Reading ${file.name}…`);
  try {
    const bytes = await file.arrayBuffer();
    const m = await sim.call("trace", { name: file.name, bytes });
    inputs.trace = { name: file.name, bytes };
    const s = m.result;
    $("trace-name").textContent = `${s.name}: ${s.jobs.toLocaleString("en")} jobs (${s.format})\n${s.description}`;
    $("trace-clear").hidden = false;
    $("days").disabled = true;
    clearError("trace");
    status(`Loaded ${s.name} in ${Math.round(m.ms)} ms`);
    changed(0);
  } catch (e) {
    showError("trace", `The trace was not loaded:\n${e.message}`);
    status("The trace was not loaded");
    if (e.fatal) await restartSim();
  }
}

async function loadPrices(files) {
  const bad = [];
  for (const file of files) {
    status(`Reading ${file.name}…`);
    try {
      const bytes = await file.arrayBuffer();
      const m = await sim.call("prices", { name: file.name, bytes, config: state.config });
      inputs.prices = inputs.prices.filter((p) => p.name !== file.name);
      inputs.prices.push({ name: file.name, bytes, summary: m.result });
    } catch (e) {
      bad.push(e.message);
      if (e.fatal) await restartSim();
    }
  }
  if (inputs.prices.length) {
    $("price-names").textContent = inputs.prices.map((p) => p.summary.description).join("\n");
    $("prices-clear").hidden = false;
  }
  if (bad.length) showError("prices", `Not loaded:\n${bad.join("\n")}`);
  else clearError("prices");
  status(bad.length ? "Some price files were not loaded" : "Prices loaded");
  changed(0);
}

async function loadConfig(file) {
  try {
    const text = await file.text();
    state.config = JSON.parse(check_config(file.name, text));
    clearError("config-file");
    syncControls();
    status(`Config ${file.name} applied`);
    changed(0);
  } catch (e) {
    showError("config-file", `The config was not applied:\n${e.message || e}`);
  }
}

// ---------------------------------------------------------------- replay and results

let inflight = false;
let wanted = false;

async function pump() {
  if (inflight || !wanted || !sim) return;
  wanted = false;
  inflight = true;
  $("busy").hidden = false;
  const req = request();
  const t0 = performance.now();
  try {
    const m = await sim.call("replay", { request: req });
    const result = JSON.parse(m.result);
    app.timings.lastReplayMs = m.replayMs;
    app.timings.lastWorkerMs = m.ms;
    app.timings.lastRoundTripMs = performance.now() - t0;
    render(result, req, m.ms);
    clearError("replay");
  } catch (e) {
    showError("replay", `The scenario could not be replayed:\n${e.message}`);
    status("The last change could not be replayed; the result shown is from before it");
    if (e.fatal) await restartSim();
  } finally {
    inflight = false;
    $("busy").hidden = !wanted;
    pump();
  }
}

const fmt = {
  s: (v) => (v >= 5400 ? `${(v / 3600).toFixed(1)} h` : v >= 120 ? `${(v / 60).toFixed(1)} min` : `${v.toFixed(0)} s`),
  usd: (v) => (Math.abs(v) >= 100 ? `$${v.toFixed(0)}` : `$${v.toFixed(2)}`),
  n: (v) => Number(v).toLocaleString("en"),
  pct: (v) => `${(v * 100).toFixed(1)}%`,
  h: (v) => `${v.toFixed(1)} h`,
};

function card(title, bigKey, bigText, rows, delta) {
  const c = document.createElement("div");
  c.className = "card";
  const h = document.createElement("h3");
  h.textContent = title;
  const big = document.createElement("div");
  big.className = "big";
  big.dataset.metric = bigKey;
  big.textContent = bigText;
  if (delta) {
    const d = document.createElement("span");
    d.className = `delta ${delta.cls}`;
    d.textContent = delta.text;
    big.append(d);
  }
  const dl = document.createElement("dl");
  for (const [label, key, text] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.dataset.metric = key;
    dd.textContent = text;
    dl.append(dt, dd);
  }
  c.append(h, big, dl);
  return c;
}

function delta(now, before, f) {
  if (before === undefined || before === null || now === before) return null;
  const d = now - before;
  return { cls: d > 0 ? "up" : "down", text: `${d > 0 ? "▲" : "▼"} ${f(Math.abs(d))}` };
}

let previous = null;
let charts = {}; // id → {kind, data}

function render(result, req, ms) {
  const r = JSON.parse(result.report_json);
  const before = previous;
  previous = r;
  app.lastResult = { ...result, report: r, request: req };
  app.replays += 1;
  const j = r.jobs, w = r.wait_seconds, c = r.cost_usd, i = r.instances, g = r.github_api;
  const box = $("metrics");
  box.replaceChildren(
    card("Wait for a runner, p95", "wait_seconds.p95", fmt.s(w.p95), [
      ["p50", "wait_seconds.p50", fmt.s(w.p50)],
      ["p90", "wait_seconds.p90", fmt.s(w.p90)],
      ["p99", "wait_seconds.p99", fmt.s(w.p99)],
      ["max", "wait_seconds.max", fmt.s(w.max)],
      ["mean", "wait_seconds.mean", fmt.s(w.mean)],
      ["jobs started", "wait_seconds.samples", fmt.n(w.samples)],
    ], before && delta(w.p95, before.wait_seconds.p95, fmt.s)),
    card("Cost, total", "cost_usd.total", fmt.usd(c.total), [
      ["per job-hour", "cost_per_job_hour_usd", `$${r.cost_per_job_hour_usd.toFixed(3)}`],
      ["spot instances", "cost_usd.instances_spot", fmt.usd(c.instances_spot)],
      ["on-demand", "cost_usd.instances_on_demand", fmt.usd(c.instances_on_demand)],
      ["EBS", "cost_usd.ebs", fmt.usd(c.ebs)],
      ["Lambda", "cost_usd.lambda", fmt.usd(c.lambda)],
      ["SQS", "cost_usd.sqs", fmt.usd(c.sqs)],
      ["API Gateway", "cost_usd.api_gateway", fmt.usd(c.api_gateway)],
    ], before && delta(c.total, before.cost_usd.total, fmt.usd)),
    card("Jobs completed", "jobs.completed", fmt.n(j.completed), [
      ["in trace", "jobs.total", fmt.n(j.total)],
      ["served", "jobs.served", fmt.n(j.total - j.unserved)],
      ["never started", "jobs.never_started", fmt.n(j.never_started)],
      ["unfinished", "jobs.unfinished", fmt.n(j.unfinished)],
      ["unserved", "jobs.unserved", fmt.n(j.unserved)],
      ["interrupted", "jobs.interrupted", fmt.n(j.interrupted)],
      ["re-runs", "jobs.reruns", fmt.n(j.reruns)],
      ["dead-lettered", "jobs.dead_lettered", fmt.n(j.dead_lettered)],
    ]),
    card("Instances launched", "instances.launched", fmt.n(i.launched), [
      ["spot", "instances.spot", fmt.n(i.spot)],
      ["on-demand", "instances.on_demand", fmt.n(i.on_demand)],
      ["by failover", "instances.failovers", fmt.n(i.failovers)],
      ["peak at once", "instances.peak", fmt.n(i.peak)],
      ["billed", "instances.billed_instance_hours", fmt.h(i.billed_instance_hours)],
      ["utilisation", "utilisation", fmt.pct(r.utilisation)],
      ["interruptions", "interruptions", fmt.n(r.interruptions)],
    ]),
    card("GitHub API, peak per hour", "github_api.peak_per_hour", fmt.n(g.peak_per_hour), [
      ["calls", "github_api.calls", fmt.n(g.calls)],
      ["mean per hour", "github_api.mean_per_hour", g.mean_per_hour.toFixed(0)],
      ["budget per hour", "github_api.budget_per_hour", fmt.n(g.budget_per_hour)],
      ["hours over budget", "github_api.hours_over_budget", fmt.n(g.hours_over_budget)],
    ]),
  );
  $("table").textContent = result.table;
  const target = sloValue();
  const advice = $("advice");
  if (j.never_started > 0) {
    advice.textContent = `${fmt.n(j.never_started)} jobs never got a runner: raise Max runners, or let the search below find a config.`;
  } else if (target !== null && w.p95 > target) {
    advice.textContent = `The p95 wait (${fmt.s(w.p95)}) is above the ${target} s target: try more runners, a shorter delay or idle runners — or let the search below find a config.`;
  } else {
    advice.textContent = "";
  }
  advice.hidden = !advice.textContent;
  $("mini").textContent = `p95 wait ${fmt.s(w.p95)} · cost ${fmt.usd(c.total)} · ${fmt.n(i.launched)} launched`;
  $("inputs-line").textContent = `${r.inputs.simulated_from} → ${r.inputs.simulated_to} · seed ${r.inputs.seed} · ${r.inputs.region}` +
    (r.inputs.notes.length ? ` · ${r.inputs.notes.length} note(s) in the full report` : "");
  if (!same(result.instance_types, knownTypes)) {
    knownTypes = result.instance_types;
    renderTypes();
  }
  $("pool_runner_owner").placeholder = result.trace_owner || "organization";
  charts["chart-fleet"] = { kind: "fleet", data: { timeline: result.timeline, title: "current config" } };
  charts["chart-cdf"] = {
    kind: "cdf",
    data: { series: [{ label: "current config", waits: result.waits }], slo_seconds: sloValue() },
  };
  charts["chart-cost"] = { kind: "cost", data: { bars: [{ label: "current config", cost: c }] } };
  drawCharts(["chart-fleet", "chart-cdf", "chart-cost"]);
  if (app.timings.firstResultMs === null) {
    app.timings.firstResultMs = performance.now();
    $("timing").textContent = `first result ${Math.round(app.timings.firstResultMs)} ms after the page started loading`;
  }
  status(`Replayed ${fmt.n(j.total)} jobs in ${Math.round(ms)} ms`);
  $("timing").textContent =
    `first result ${Math.round(app.timings.firstResultMs)} ms after the page started loading · last replay ${Math.round(ms)} ms in the worker`;
}

function sloValue() {
  const v = Number($("slo").value);
  return Number.isFinite(v) && v >= 0 ? v : null;
}

function drawCharts(ids) {
  for (const id of ids) {
    const ch = charts[id];
    const canvas = $(id);
    if (!ch || !canvas) continue;
    const box = canvas.getBoundingClientRect();
    if (box.width < 10 || box.height < 10) continue;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(box.width * dpr);
    canvas.height = Math.round(box.height * dpr);
    // Lay the chart out wider than it shows (at least 800 px): the simulator's charts are
    // designed for ~1200 px, so their titles and legends fit, with text ~13-15 CSS px.
    const logical = Math.max(box.width * 1.3, 800);
    try {
      draw_chart(ch.kind, id, JSON.stringify(ch.data), canvas.width / logical);
      clearError(`chart-${id}`);
    } catch (e) {
      showError(`chart-${id}`, `A chart could not be drawn: ${why(e)}`);
    }
  }
}

let resizeTimer = null;
new ResizeObserver(() => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => drawCharts(Object.keys(charts)), 150);
}).observe(document.body);

// ---------------------------------------------------------------- exports

function download(name, text, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function bindExports() {
  $("dl-tfvars").addEventListener("click", () => {
    const vars = app.lastResult && same(app.lastResult.request.config, state.config) ? app.lastResult.tfvars : state.config;
    download("flotilla.tfvars.json", JSON.stringify(vars, null, 2) + "\n");
  });
  $("dl-report").addEventListener("click", () => {
    if (!app.lastResult) return showError("export", "No result yet: wait for the first replay.");
    download("flotilla-report.json", app.lastResult.report_json);
  });
  $("share").addEventListener("click", async () => {
    writeUrl();
    try {
      await navigator.clipboard.writeText(location.href);
      status("Link copied: it holds the config and the seed (not the uploaded files)");
    } catch (_) {
      status(`Copy this link: ${location.href}`);
    }
  });
  $("dl-recommended").addEventListener("click", () => {
    const s = app.search.lastSummary;
    if (s && s.recommended_tfvars) download($("dl-recommended").dataset.name || "recommended.tfvars.json", s.recommended_tfvars);
  });
  $("apply-recommended").addEventListener("click", () => {
    const s = app.search.lastSummary;
    if (!s || !s.recommended_tfvars) return;
    state.config = JSON.parse(check_config("recommended.tfvars.json", s.recommended_tfvars));
    syncControls();
    status("The recommended config is now the current one");
    changed(0);
  });
  $("slo").addEventListener("change", () => {
    const cdf = charts["chart-cdf"];
    if (cdf) {
      cdf.data.slo_seconds = sloValue();
      drawCharts(["chart-cdf"]);
    }
  });
}

// ---------------------------------------------------------------- search

let running = null; // {workers, cancelled, driver, extra}

function searchUi(on) {
  $("search-start").disabled = on;
  $("search-cancel").disabled = !on;
  app.search.running = on;
}

function showSearch(driver, extra, final) {
  const extraJson = "[" + extra.join(",") + "]";
  const result = driver.result(extraJson);
  const summary = JSON.parse(driver.summary(extraJson));
  app.search.evaluated = summary.evaluated;
  const parsed = JSON.parse(result);
  charts["chart-pareto"] = { kind: "pareto", data: parsed };
  drawCharts(["chart-pareto"]);
  if (final) {
    app.search.lastSummary = summary;
    app.search.resultJson = result;
    // As flotilla tune --out: only a config meeting the target is "recommended".
    const name = summary.meets_slo ? "recommended.tfvars.json" : "closest.tfvars.json";
    $("dl-recommended").textContent = summary.meets_slo
      ? "Download recommended.tfvars.json"
      : "Download closest.tfvars.json (it does not meet the target)";
    $("dl-recommended").dataset.name = name;
    $("recommended-name").textContent = name;
    $("search-result").hidden = false;
    $("search-summary").textContent = summary.summary;
    $("front").textContent = summary.front_table;
    const notes = $("search-notes");
    notes.replaceChildren();
    for (const n of parsed.space.notes || []) {
      const li = document.createElement("li");
      li.textContent = n;
      notes.append(li);
    }
    $("recommended").textContent = summary.recommended_tfvars || "(nothing to recommend: every config tried was rejected)";
    $("dl-recommended").disabled = !summary.recommended_tfvars;
    $("apply-recommended").disabled = !summary.recommended_tfvars;
  }
  return summary;
}

async function compare(summary, req) {
  // Base and recommended side by side: two full replays on the replay worker.
  if (!summary.recommended_tfvars) return;
  const rec = JSON.parse(summary.recommended_tfvars);
  const base = summary.base_tfvars || {};
  const [a, b] = await Promise.all([
    sim.call("replay", { request: { ...req, config: base } }),
    sim.call("replay", { request: { ...req, config: rec } }),
  ]);
  const ra = JSON.parse(a.result), rb = JSON.parse(b.result);
  const ca = JSON.parse(ra.report_json).cost_usd, cb = JSON.parse(rb.report_json).cost_usd;
  charts["chart-compare-cdf"] = {
    kind: "cdf",
    data: {
      series: [{ label: "base", waits: ra.waits }, { label: "recommended", waits: rb.waits }],
      slo_seconds: sloValue(),
    },
  };
  charts["chart-compare-cost"] = { kind: "cost", data: { bars: [{ label: "base", cost: ca }, { label: "recommended", cost: cb }] } };
  drawCharts(["chart-compare-cdf", "chart-compare-cost"]);
  app.search.compared = true;
}

async function runSearch() {
  if (running) return;
  clearError("search");
  const req = request();
  const slo = sloValue();
  const maxEvals = Number($("max-evals").value);
  if (slo === null || !Number.isInteger(maxEvals) || maxEvals < 1 || maxEvals > 2000) {
    showError("search", "The search needs a p95 wait target of 0 s or more and 1-2000 configs to try.");
    return;
  }
  const objective = { ...defaultObjective, slo_p95_seconds: slo };
  const n = Math.max(1, Math.min(4, navigator.hardwareConcurrency || 2));
  running = { workers: [], cancelled: false, driver: null, extra: [] };
  const run = running;
  app.search.done = false;
  app.search.cancelled = false;
  app.search.compared = false;
  searchUi(true);
  $("search-result").hidden = true;
  $("pareto-box").hidden = false;
  const bar = $("search-progress");
  bar.max = maxEvals;
  bar.value = 0;
  const say = (t) => ($("search-status").textContent = t);
  say(`Starting ${n} workers…`);
  const t0 = performance.now();
  try {
    run.workers = await Promise.all(Array.from({ length: n }, (_, k) => startWorker(`search-${k + 1}`)));
    if (run.cancelled) throw new Error("cancelled");
    const space = (await run.workers[0].call("space", { request: req })).result;
    run.driver = new SearchDriver(
      JSON.stringify({ config: req.config, space, objective, max_evals: maxEvals, seed: req.seed }),
    );
    let batch;
    while (!run.cancelled && (batch = run.driver.next_batch()) !== undefined) {
      const tasks = JSON.parse(batch);
      run.extra = [];
      let next = 0;
      const recorded = JSON.parse(run.driver.progress()).evaluated;
      let lastDraw = 0;
      await Promise.all(
        run.workers.map(async (w) => {
          while (next < tasks.length && !run.cancelled) {
            const t = tasks[next++];
            const m = await w.call("evaluate", { request: req, index: t.index, config: t.config, objective });
            run.extra.push(m.result);
            const done = recorded + run.extra.length;
            bar.value = done;
            say(`${done} of ${maxEvals} configs evaluated`);
            if (performance.now() - lastDraw > 700) {
              lastDraw = performance.now();
              try {
                showSearch(run.driver, run.extra, false);
              } catch (e) {
                showError("search-preview", `The search's progress could not be drawn:\n${why(e)}`);
              }
            }
          }
        }),
      );
      run.driver.record("[" + run.extra.join(",") + "]");
      run.extra = [];
      showSearch(run.driver, [], false);
    }
  } catch (e) {
    if (!run.cancelled) showError("search", `The search stopped:\n${why(e)}`);
  } finally {
    for (const w of run.workers) w.terminate(new Error("cancelled"));
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    let summary = null;
    if (run.driver) {
      try {
        summary = showSearch(run.driver, run.extra, true);
      } catch (e) {
        showError("search", `The search's result could not be shown:\n${why(e)}`);
      }
    }
    if (summary) {
      bar.value = summary.evaluated;
      say(
        run.cancelled
          ? `Cancelled: ${summary.evaluated} of ${maxEvals} configs evaluated in ${secs} s`
          : `Done: ${summary.evaluated} configs evaluated in ${secs} s`,
      );
      app.search.cancelled = run.cancelled;
      app.search.done = true;
      running = null;
      searchUi(false);
      try {
        await compare(summary, req);
      } catch (e) {
        showError("search", `The comparison replays failed:\n${e.message}`);
      }
    } else {
      say(run.cancelled ? "Cancelled before the first config was evaluated" : "The search did not start");
      app.search.cancelled = run.cancelled;
      app.search.done = true;
      running = null;
      searchUi(false);
    }
  }
}

function cancelSearch() {
  if (!running) return;
  running.cancelled = true;
  // Workers stop at once; evaluations already back are kept.
  for (const w of running.workers) w.terminate(new Error("cancelled"));
  $("search-status").textContent = "Cancelling…";
}

// ---------------------------------------------------------------- start

async function main() {
  status("Loading the simulator…");
  // Compile once; the page and every worker instantiate the same module.
  wasmModule = await WebAssembly.compileStreaming(fetch(new URL("./pkg/flotilla_web_bg.wasm", import.meta.url)));
  await init({ module_or_path: wasmModule });
  $("version").textContent = `flotilla-web ${version()}`;
  defaults = JSON.parse(default_config());
  defaultObjective = JSON.parse(default_objective());
  readUrl();
  bindControls();
  bindFiles();
  bindExports();
  $("search-start").addEventListener("click", runSearch);
  $("search-cancel").addEventListener("click", cancelSearch);
  window.addEventListener("hashchange", () => {
    if (location.hash.slice(1) === encodeState()) return;
    readUrl();
    syncControls();
    changed(0);
  });
  syncControls();
  status("Starting the simulation worker…");
  sim = await startWorker("replay");
  app.ready = true;
  status("Replaying the built-in demo…");
  wanted = true;
  pump();
}

main().catch((e) => {
  showError("start", `The simulator could not start: ${e.message || e}`);
  status("The simulator could not start");
});
