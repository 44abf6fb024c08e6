// VOID engine monitor: polls the engine's JSON and updates the page in place (no reloads).
// Everything from the engine is put in the page as text (textContent), never as HTML.
"use strict";

const TOKEN_KEY = "void-admin-token";
const TERMINAL = new Set(["done", "failed", "cancelled"]);
let refreshMs = 1000;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function duration(s) {
  if (s === null || s === undefined) return "–";
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(sec).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${m}:${ss}`;
}

function bytes(n) {
  if (!n) return "0";
  const gib = n / 2 ** 30;
  return gib >= 1 ? `${gib.toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(0)} MiB`;
}

function clock(ts) {
  return new Date(ts * 1000).toLocaleTimeString([], { hour12: false });
}

// -- admin token ---------------------------------------------------------------------------------

function adminToken() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function isAdmin() { return document.body.dataset.admin === "true"; }

async function checkAdmin(token) {
  const state = document.getElementById("admin-state");
  if (!token) { document.body.dataset.admin = "false"; state.textContent = ""; return; }
  const r = await fetch("/api/admin", { method: "POST", headers: { Authorization: `Bearer ${token}` } });
  if (r.ok) {
    sessionStorage.setItem(TOKEN_KEY, token);
    document.body.dataset.admin = "true";
    state.textContent = "admin";
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
    document.body.dataset.admin = "false";
    state.textContent = (await r.json()).error || `refused (${r.status})`;
  }
}

function setupAdmin() {
  const form = document.getElementById("admin-form");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = document.getElementById("admin-token");
    checkAdmin(input.value.trim()).then(refresh);
    input.value = "";
  });
  return checkAdmin(adminToken());
}

async function act(verb, job) {
  const r = await fetch(`/api/jobs/${encodeURIComponent(job)}/${verb}`, {
    method: "POST", headers: { Authorization: `Bearer ${adminToken()}` },
  });
  const body = await r.json();
  status(r.ok ? (body.retried_as ? `job ${job} retried as ${body.retried_as}` : `job ${job}: ${verb} sent (${body.state})`)
              : `${verb} refused: ${body.error}`);
  refresh();
}

function actionButtons(job) {
  const box = el("span", "actions");
  if (!isAdmin()) return box;
  if (!TERMINAL.has(job.state) && !job.cancel_requested) {
    const b = el("button", "danger cancel", "Cancel");
    b.dataset.action = "cancel";
    b.addEventListener("click", (ev) => { ev.preventDefault(); act("cancel", job.id); });
    box.append(b);
  }
  if ((job.state === "failed" || job.state === "cancelled") && !job.by_value) {
    const b = el("button", "retry", "Retry");
    b.dataset.action = "retry";
    b.addEventListener("click", (ev) => { ev.preventDefault(); act("retry", job.id); });
    box.append(b);
  }
  return box;
}

function actionsKey(job) {
  return [isAdmin(), job.state, job.cancel_requested, job.by_value].join("|");
}

function status(text) { document.getElementById("status-line").textContent = text; }

function engineLine(engine) {
  const box = document.getElementById("engine");
  box.textContent = "";
  const parts = [["engine", engine.version], ["backend", engine.backend], ["at", engine.endpoint],
                 ["up", duration(engine.uptime_s)]];
  for (const g of engine.gpus || []) parts.push([g.device, `${bytes(g.in_use)} (peak ${bytes(g.peak)})`]);
  for (const [k, v] of parts) {
    box.append(`${k} `, el("b", null, v), "   ");
  }
}

function progressBar(outer, job) {
  let inner = outer.querySelector(".bar-inner"), text = outer.querySelector(".bar-text");
  if (!inner) { inner = el("div", "bar-inner"); text = el("div", "bar-text"); outer.append(inner, text); }
  const pct = Math.round(job.progress * 1000) / 10;
  inner.className = `bar-inner ${job.state}`;
  inner.style.width = `${pct}%`;
  outer.dataset.progress = String(job.progress);
  text.textContent = job.state === "queued" ? "" : `${pct.toFixed(0)}%`;
}

// -- jobs page -------------------------------------------------------------------------------------

const COUNT_STATES = ["queued", "running", "done", "failed", "cancelled"];

function renderCounts(counts) {
  const box = document.getElementById("counts");
  if (!box.children.length) {
    for (const s of COUNT_STATES) {
      const c = el("div", `count ${s}`);
      c.dataset.state = s;
      c.append(el("div", "n", "0"), el("div", "l", s));
      box.append(c);
    }
  }
  for (const c of box.children) c.querySelector(".n").textContent = String(counts[c.dataset.state] || 0);
}

function jobRow(job) {
  const tr = el("tr", "job");
  tr.dataset.job = job.id;
  for (const name of ["state", "id", "shot", "owner", "frames", "progress", "stage", "elapsed", "eta", "priority", "act"]) {
    const td = el("td", name);
    td.dataset.col = name;
    tr.append(td);
  }
  const a = el("a", null, job.id);
  a.href = `/jobs/${encodeURIComponent(job.id)}`;
  tr.querySelector(".id").append(a);
  tr.querySelector(".state").append(el("span", "pill"));
  tr.querySelector(".progress").append(el("div", "bar-outer"));
  return tr;
}

function updateRow(tr, job) {
  tr.dataset.state = job.state;
  const cell = (n) => tr.querySelector(`td.${n}`);
  const pill = cell("state").firstChild;
  pill.className = `pill ${job.state}`;
  pill.textContent = job.cancel_requested && !TERMINAL.has(job.state) ? "cancelling" : job.state;
  cell("shot").textContent = job.shot;
  cell("shot").title = job.plate;
  cell("owner").textContent = job.owner;
  cell("owner").title = job.owner;
  cell("frames").textContent = `${job.frames} (${job.frame_count})`;
  progressBar(cell("progress").firstChild, job);
  cell("stage").textContent = job.state === "failed" ? (job.error || "failed") : job.stage;
  cell("stage").title = job.message || "";
  cell("elapsed").textContent = duration(job.elapsed_s);
  cell("eta").textContent = job.eta_s === null ? "–" : duration(job.eta_s);
  cell("priority").textContent = String(job.priority);
  const act = cell("act"), key = actionsKey(job);
  if (act.dataset.key !== key) { act.textContent = ""; act.append(actionButtons(job)); act.dataset.key = key; }
}

async function refreshJobs() {
  const r = await fetch("/api/jobs", { cache: "no-store" });
  const data = await r.json();
  refreshMs = Math.max(200, (data.engine.refresh_s || 1) * 1000);
  engineLine(data.engine);
  renderCounts(data.engine.counts);
  const body = document.getElementById("job-rows");
  const existing = new Map([...body.querySelectorAll("tr.job")].map((tr) => [tr.dataset.job, tr]));
  const placeholder = body.querySelector("tr:not(.job)");
  if (placeholder && data.jobs.length) placeholder.remove();
  data.jobs.forEach((job, i) => {
    const tr = existing.get(job.id) || jobRow(job);
    existing.delete(job.id);
    updateRow(tr, job);
    if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);  // rows keep their place
  });
  for (const tr of existing.values()) tr.remove();
  status(`updated ${new Date().toLocaleTimeString([], { hour12: false })}`);
}

// -- job page --------------------------------------------------------------------------------------

function jobIdFromPath() { return decodeURIComponent(location.pathname.split("/").pop()); }

let stripKey = "";

function renderStrip(job, strip) {
  const key = JSON.stringify(strip);
  if (key === stripKey) return;
  stripKey = key;
  const box = document.getElementById("strip");
  box.textContent = "";
  for (const kind of ["plate", "quadmask", "result"]) {
    const row = el("div", `strip-row ${kind}`);
    row.dataset.kind = kind;
    row.append(el("div", "strip-label", kind));
    for (const f of strip.frames) {
      const cell = el("div", "frame");
      if (strip.available[kind]) {
        const img = el("img");
        img.alt = `${kind} frame ${f}`;
        img.loading = "lazy";
        img.src = `/thumbs/${encodeURIComponent(job.id)}/${kind}/${f}.jpg`;
        cell.append(img);
      } else {
        cell.append(el("div", "ph", kind === "plate" ? "plate not readable" : "with the result"));
      }
      cell.append(el("div", "fn", String(f)));
      row.append(cell);
    }
    box.append(row);
  }
}

function fact(dl, name, value) {
  dl.append(el("dt", null, name), el("dd", null, value === null || value === undefined || value === "" ? "–" : String(value)));
}

function eventText(e) {
  if (e.kind === "state") return e.state + (e.message ? ` – ${e.message}` : "") + (e.output ? ` → ${e.output}` : "");
  if (e.kind === "stage") return `${e.stage}${e.total ? ` ${e.step}/${e.total}` : ""}`;
  if (e.kind === "step") return `window ${e.window} · step ${e.step}/${e.total}`;
  return e.message || "";
}

async function refreshJob() {
  const id = jobIdFromPath();
  const r = await fetch(`/api/jobs/${encodeURIComponent(id)}`, { cache: "no-store" });
  if (!r.ok) { status((await r.json()).error); return; }
  const data = await r.json();
  refreshMs = Math.max(200, (data.engine.refresh_s || 1) * 1000);
  engineLine(data.engine);
  const job = data.job;
  document.title = `VOID · ${job.shot} · ${job.state}`;
  document.body.dataset.state = job.state;
  const title = document.getElementById("job-title");
  title.textContent = "";
  title.append(el("span", `pill ${job.state}`, job.state), ` ${job.shot} `, el("span", "muted", job.id));
  document.getElementById("job-sub").textContent = job.prompt ? `prompt: “${job.prompt}”` : "";
  progressBar(document.querySelector(".job-progress .bar-outer"), job);
  document.getElementById("job-stage").textContent = job.state === "failed" ? job.error || "failed" : job.stage;
  document.getElementById("job-times").textContent =
    `elapsed ${duration(job.elapsed_s)} · eta ${job.eta_s === null ? "–" : duration(job.eta_s)}`;
  const actions = document.getElementById("job-actions"), key = actionsKey(job);
  if (actions.dataset.key !== key) { actions.textContent = ""; actions.append(actionButtons(job)); actions.dataset.key = key; }
  const dl = document.getElementById("job-facts");
  dl.textContent = "";
  fact(dl, "owner", job.owner); fact(dl, "frames", `${job.frames} (${job.frame_count})`);
  fact(dl, "backend", job.backend || "engine default"); fact(dl, "steps", job.steps || "engine default");
  fact(dl, "plate", job.plate); fact(dl, "output", job.output);
  fact(dl, "priority", job.priority); fact(dl, "attempts", job.attempts);
  fact(dl, "by value", job.by_value ? "yes" : "no"); fact(dl, "pass 2", job.pass2 ? "yes" : "no");
  fact(dl, "submitted", clock(job.created)); fact(dl, "updated", clock(job.updated));
  renderStrip(job, data.strip);
  const tbody = document.getElementById("events");
  tbody.textContent = "";
  for (const e of data.events.slice().reverse()) {
    const tr = el("tr", `ev ${e.kind}`);
    tr.append(el("td", null, String(e.seq)), el("td", null, clock(e.ts)), el("td", null, e.kind), el("td", null, eventText(e)));
    tbody.append(tr);
  }
  status(`updated ${new Date().toLocaleTimeString([], { hour12: false })}`);
}

// -- polling ---------------------------------------------------------------------------------------

const refresh = document.body.dataset.page === "job" ? refreshJob : refreshJobs;

async function loop() {
  try { await refresh(); } catch (err) { status(`engine unreachable: ${err}`); }
  setTimeout(loop, refreshMs);
}

setupAdmin().finally(loop);
