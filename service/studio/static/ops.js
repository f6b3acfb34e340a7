/* Ops view: one read-only document (GET /v1/ops/state, ops scope), refreshed every 5 s. */
"use strict";
(function () {
  const { t, el, clear, alertBox, api } = window.SG;
  const $ = (id) => document.getElementById(id);
  function kv(id, pairs) {
    const box = clear($(id));
    for (const [k, v] of pairs) box.append(el("dt", {}, k), el("dd", { "data-key": k }, v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v)));
  }
  function render(s) {
    $("ops-time").textContent = new Date(s.time * 1000).toLocaleTimeString();
    const body = clear($("chain").tBodies[0]);
    const failures = s.rates.totals || {};
    for (const p of s.providers) {
      const state = p.breaker ? p.breaker.state : "—";
      body.append(el("tr", { "data-provider": p.name },
        el("td", {}, p.name), el("td", {}, p.model || ""),
        el("td", {}, el("span", { class: "badge breaker " + state, "data-state": state }, state),
          p.breaker && p.breaker.open_for_s ? ` ${p.breaker.open_for_s}s` : ""),
        el("td", {}, String(failures["llm_failures:" + p.name] || 0) + (p.breaker ? ` (${p.breaker.consecutive_failures} ${t("ops.failures").toLowerCase()})` : ""))));
    }
    const pm = s.rates.per_minute || {};
    kv("rates", [["requests", pm.requests], ["4xx+5xx", pm.errors], ["5xx", pm.server_errors], ["llm calls", pm.llm_calls], ["llm failures", pm.llm_failures], ["degraded", pm.degraded], ["window s", s.rates.window_s]]);
    kv("cache", [["backend", s.cache.backend], ["ok", s.cache.ok], ["entries", s.cache.entries], ["error", s.cache.error], ["redis", s.redis.configured ? s.redis.url : "—"]]);
    kv("catalog", [["version", s.catalog.version], ["products", s.catalog.products], ["source", s.catalog.source], ["rejected rows", s.catalog.rejected_rows]]);
    const local = s.local_models[0];
    kv("local", local ? [["model", local.model], ["loaded", local.loaded], ["ready", local.ready], ["device", local.device], ["queue", local.queue_depth], ["last error", local.last_error]] : [[t("ops.none"), ""]]);
    kv("jobs", [["backend", s.jobs.backend], ["queue", s.jobs.queue], ["workers", s.jobs.workers], ["queued chunks", s.jobs.queued_chunks], ["waiting for a worker", s.jobs.waiting_for_worker]]);
    kv("db", [["backend", s.database.backend], ["url", s.database.url], ["ok", s.database.ok], ["entries", s.database.entries]]);
    const cfg = clear($("config").tBodies[0]);
    for (const [k, v] of Object.entries(s.config)) cfg.append(el("tr", {}, el("td", {}, k), el("td", {}, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v ?? ""))));
  }
  async function refresh() {
    try { const data = await api("GET", "/v1/ops/state"); alertBox(""); render(data.state); } catch (e) { alertBox(e.message); }
  }
  document.addEventListener("DOMContentLoaded", () => {
    refresh(); setInterval(refresh, 5000);
    document.addEventListener("sg:key", refresh);
  });
})();
