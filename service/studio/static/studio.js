/* Copy studio: find products, write and check copy, edit with live re-checks, approve/reject, bulk jobs, export. */
"use strict";
(function () {
  const { t, el, clear, say, alertBox, api, ApiError, debounce, download } = window.SG;
  const OPTIONS_KEY = "sg.studio.options";
  const JOB_KEY = "sg.studio.job";
  const state = { product: null, jobId: null, baseVersion: 0, variants: [], selected: new Set(), poll: null, pollGeneration: 0, job: null };
  const $ = (id) => document.getElementById(id);

  /* -- options, remembered per browser -------------------------------------------------------- */
  function loadOptions() {
    let saved = {};
    try { saved = JSON.parse(localStorage.getItem(OPTIONS_KEY) || "{}"); } catch (e) { saved = {}; }
    for (const field of $("options").elements) {
      if (!field.name || !(field.name in saved)) continue;
      if (field.type === "checkbox") field.checked = !!saved[field.name]; else field.value = saved[field.name];
    }
  }
  function saveOptions() {
    const out = {};
    for (const field of $("options").elements) if (field.name) out[field.name] = field.type === "checkbox" ? field.checked : field.value;
    localStorage.setItem(OPTIONS_KEY, JSON.stringify(out));
  }
  function terms(value) { return value.split(/[,，、\n]/).map((s) => s.trim()).filter(Boolean); }
  function options() {
    const f = $("options").elements;
    const o = { channel: f.channel.value, tone: f.tone.value.trim() || "friendly", variants: Math.min(5, Math.max(1, parseInt(f.variants.value, 10) || 3)), strict: f.strict.checked };
    if (f.language.value) o.language = f.language.value;
    if (f.length.value) o.length = f.length.value;
    const kw = terms(f.keywords.value); if (kw.length) o.keywords = kw;
    const banned = terms(f.banned_words.value); if (banned.length) o.banned_words = banned;
    if (f.audience.value.trim()) o.audience = f.audience.value.trim();
    if (f.brand_voice.value.trim()) o.brand_voice = f.brand_voice.value.trim();
    return o;
  }

  function fail(err) { alertBox(err.message); say(""); }

  /* -- products ---------------------------------------------------------------------------------- */
  let facetsLoaded = false;
  async function loadProducts() {
    const params = new URLSearchParams({ limit: "50" });
    if ($("q").value.trim()) params.set("q", $("q").value.trim());
    if ($("f-category").value) params.set("category", $("f-category").value);
    if ($("f-brand").value) params.set("brand", $("f-brand").value);
    let data;
    try { data = await api("GET", "/v1/studio/products?" + params); } catch (e) { fail(e); return; }
    alertBox("");
    if (!facetsLoaded) {
      facetsLoaded = true;
      for (const c of data.categories) { $("f-category").append(el("option", { value: c }, c)); $("job-category").append(el("option", { value: c }, c)); }
      for (const b of data.brands) $("f-brand").append(el("option", { value: b }, b));
    }
    const list = clear($("products"));
    if (!data.products.length) list.append(el("li", { class: "muted" }, t("find.none")));
    for (const p of data.products) {
      const box = el("input", { type: "checkbox", id: "sel-" + p.id, "aria-label": t("find.select") + " " + p.title, onchange: (e) => { if (e.target.checked) state.selected.add(p.id); else state.selected.delete(p.id); } });
      box.checked = state.selected.has(p.id);
      list.append(el("li", { "data-product": p.id }, box,
        el("button", { type: "button", class: "link open-product", onclick: () => openProduct(p) }, p.title),
        p.review ? el("span", { class: "badge " + p.review.status }, p.review.status) : null));
    }
    say(t("find.count", { n: data.total }));
  }

  /* -- one product's variants -------------------------------------------------------------------- */
  async function openProduct(p, preset) {
    state.product = p; state.jobId = (preset && preset.jobId) || null; state.variants = [];
    $("var-product").textContent = t("var.for", { title: p.title });
    clear($("variants"));
    await loadHistory();
    if (preset && preset.variants) { setVariants(preset.variants, preset.source || {}); await recheckAll(); }
    else await generate();
    $("variants").querySelector("textarea, input") && $("var-h").scrollIntoView({ block: "start" });
  }
  async function generate() {
    const p = state.product;
    if (!p) return;
    say(t("var.generating")); clear($("variants"));
    let answer;
    const body = Object.assign({}, options());
    if (state.jobId && p.upload) body.product = p.upload; else body.product_id = p.id;
    try { answer = await api("POST", "/v1/copy", body); } catch (e) { fail(e); return; }
    alertBox("");
    const source = { provider: answer.provider, model: answer.model, prompt_version: answer.prompt_version, job_id: state.jobId };
    setVariants(answer.variants, source);
    if (answer.degraded) say(t("var.degraded"));
    else say(t("var.by", { provider: answer.provider, model: answer.model, prompt: answer.prompt_version }));
    if (answer.rejected && answer.rejected.length) {
      say(t("var.dropped", { n: answer.rejected.length, why: answer.rejected.map((d) => d.reasons.join(", ")).join("; ") }));
    }
    await recheckAll();
  }
  function setVariants(list, source) {
    state.variants = list.map((v) => {
      const text = { headline: v.headline, body: v.body, bullets: v.bullets || [], cta: v.cta || "" };
      return { text, original: JSON.stringify(text), findings: v.findings || [], source: Object.assign({}, source) };
    });
    renderVariants();
  }
  async function recheckAll() {
    if (!state.variants.length) return;
    const results = await check(state.variants.map((v) => v.text));
    if (!results) return;
    results.forEach((r, i) => { state.variants[i].findings = r.findings; renderFindings(i); });
  }
  async function check(texts) {
    const body = { product_id: state.product.id, options: options(), variants: texts };
    if (state.jobId) body.job_id = state.jobId;
    try { return (await api("POST", "/v1/studio/check", body)).results; } catch (e) { fail(e); return null; }
  }

  function renderVariants() {
    const box = clear($("variants"));
    state.variants.forEach((v, i) => box.append(variantCard(v, i)));
  }
  function variantCard(v, i) {
    const id = (name) => `v${i}-${name}`;
    const recheck = debounce(async () => {
      const card = $("variant-" + i);
      if (card) card.setAttribute("aria-busy", "true");
      const results = await check([v.text]);
      if (card) card.removeAttribute("aria-busy");
      if (results) { v.findings = results[0].findings; renderFindings(i); }
    }, 400);
    const edit = (field) => (e) => {
      v.text[field] = field === "bullets" ? e.target.value.split("\n").map((s) => s.trim()).filter(Boolean) : e.target.value;
      renderPreview(i); recheck();
    };
    const card = el("article", { class: "variant", id: "variant-" + i, "aria-labelledby": id("title") },
      el("h3", { id: id("title") }, `#${i + 1}`),
      el("div", { class: "preview", id: id("preview") }),
      el("ul", { class: "findings", id: id("findings"), "aria-live": "polite" }),
      el("label", { for: id("headline") }, t("var.headline")),
      el("input", { id: id("headline"), name: "headline", value: v.text.headline, oninput: edit("headline") }),
      el("label", { for: id("body") }, t("var.body")),
      el("textarea", { id: id("body"), name: "body", rows: 5, oninput: edit("body") }, v.text.body),
      el("label", { for: id("bullets") }, t("var.bullets")),
      el("textarea", { id: id("bullets"), name: "bullets", rows: 3, oninput: edit("bullets") }, v.text.bullets.join("\n")),
      el("label", { for: id("cta") }, t("var.cta")),
      el("input", { id: id("cta"), name: "cta", value: v.text.cta, oninput: edit("cta") }),
      el("div", { class: "override", id: id("override-box"), hidden: true },
        el("label", {}, el("input", { type: "checkbox", id: id("override"), name: "override" }), " ", t("var.override")),
        el("label", { for: id("reason") }, t("var.reason")),
        el("input", { id: id("reason"), name: "override_reason" })),
      el("p", { class: "row" },
        el("button", { type: "button", class: "approve", onclick: () => decide(i, "approved") }, t("var.approve")),
        el("button", { type: "button", class: "secondary reject", onclick: () => decide(i, "rejected") }, t("var.reject"))));
    setTimeout(() => { renderPreview(i); renderFindings(i); }, 0);
    return card;
  }
  /* The copy as read, sentence by sentence; a sentence with a finding is marked and says why. */
  function renderPreview(i) {
    const v = state.variants[i];
    const box = $(`v${i}-preview`);
    if (!box) return;
    clear(box);
    const fields = [["headline", v.text.headline, "strong"], ["body", v.text.body, "p"]];
    v.text.bullets.forEach((b, j) => fields.push([`bullets.${j}`, b, "li"]));
    fields.push(["cta", v.text.cta, "em"]);
    const list = el("ul", {});
    for (const [name, text, tag] of fields) {
      const marks = v.findings.filter((f) => f.field === name && f.start !== null && text.slice(f.start, f.end) === f.sentence);
      const node = el(tag, { "data-field": name });
      let at = 0;
      const spans = [...new Map(marks.map((m) => [m.start, m])).values()].sort((a, b) => a.start - b.start);
      for (const m of spans) {
        if (m.start < at) continue;
        node.append(text.slice(at, m.start));
        const why = marks.filter((f) => f.start === m.start).map((f) => `${t("kind." + f.kind)}: ${f.text} — ${f.why[SG.lang] || f.why.en}`).join("; ");
        node.append(el("mark", { class: "finding", title: why, "data-finding": m.text }, text.slice(m.start, m.end)));
        at = m.end;
      }
      node.append(text.slice(at));
      if (tag === "li") list.append(node); else box.append(node);
      if (tag === "li" && list.parentNode !== box) box.append(list);
    }
  }
  function renderFindings(i) {
    const v = state.variants[i];
    const box = $(`v${i}-findings`);
    if (!box) return;
    clear(box);
    box.classList.toggle("clean", !v.findings.length);
    if (!v.findings.length) box.append(el("li", { class: "clean" }, t("var.clean")));
    for (const f of v.findings) {
      box.append(el("li", { class: "finding-item", "data-kind": f.kind },
        el("strong", {}, `${t("kind." + f.kind)}: `), f.text, " — ", f.why[SG.lang] || f.why.en,
        f.sentence ? el("span", { class: "muted" }, ` «${f.sentence.trim()}»`) : null));
    }
    const over = $(`v${i}-override-box`);
    if (over) over.hidden = !v.findings.length;
    renderPreview(i);
  }
  async function decide(i, decision) {
    const v = state.variants[i];
    const body = {
      product_id: state.product.id, decision, variant: v.text, base_version: state.baseVersion, options: options(),
      edited: JSON.stringify(v.text) !== v.original, source: v.source,
    };
    if (state.product.upload && !state.jobId) body.product = state.product.upload;
    if (v.findings.length && decision === "approved") {
      body.override = $(`v${i}-override`).checked;
      body.override_reason = $(`v${i}-reason`).value.trim() || null;
    }
    let result;
    try { result = await api("POST", "/v1/studio/reviews", body); } catch (e) { fail(e); if (e.status === 409) await loadHistory(false); return; }
    alertBox("");
    state.baseVersion = result.entry.row_version;
    say(t(decision === "approved" ? "var.approved" : "var.rejected", { v: result.version.number }));
    await loadHistory();
    if (state.queueJob) loadQueue(state.queueJob);
  }
  async function loadHistory(updateBase = true) {
    const box = clear($("history"));
    let data;
    try { data = await api("GET", `/v1/studio/products/${encodeURIComponent(state.product.id)}/history`); } catch (e) { fail(e); return; }
    if (updateBase) state.baseVersion = data.entry ? data.entry.row_version : 0;
    if (!data.versions.length) return;
    box.append(el("h3", {}, t("var.history")));
    const list = el("ol", { class: "list", id: "history-list", reversed: true });
    for (const v of data.versions) {
      list.append(el("li", { "data-decision": v.decision },
        el("span", { class: "badge " + v.decision }, v.decision), ` v${v.number} · ${v.decided_by} · ${new Date(v.decided_at).toLocaleString()} · `,
        `${v.provider || "-"} ${v.model || ""} · prompt ${v.prompt_version || "-"}`, v.edited ? ` · ${t("var.edited")}` : "",
        v.override ? ` · ${t("var.overridden", { why: v.override_reason || "" })}` : "",
        el("div", {}, el("strong", {}, v.headline), " ", v.body)));
    }
    box.append(list);
  }

  /* -- bulk jobs ------------------------------------------------------------------------------------ */
  async function startJob(ids) {
    let created;
    try { created = await api("POST", "/v1/copy/jobs", Object.assign(options(), { product_ids: ids })); } catch (e) { fail(e); return; }
    track(created.job_id);
  }
  async function upload(e) {
    e.preventDefault();
    const file = $("upload-file").files[0];
    if (!file) { alertBox(t("bulk.nofile")); return; }
    const form = new FormData();
    form.append("file", file); form.append("options", JSON.stringify(options()));
    let created;
    try { created = await api("POST", "/v1/studio/uploads", form); } catch (err) { fail(err); return; }
    alertBox(""); track(created.job_id);
  }
  async function categoryJob(e) {
    e.preventDefault();
    const category = $("job-category").value;
    let data;
    try { data = await api("GET", "/v1/studio/products?limit=1000&category=" + encodeURIComponent(category)); } catch (err) { fail(err); return; }
    await startJob(data.products.map((p) => p.id));
  }
  function track(jobId) {
    sessionStorage.setItem(JOB_KEY, jobId);
    state.job = jobId; $("job").hidden = false; $("job-id").textContent = jobId;
    // One poll at a time (the next is scheduled when this one answers), and a failed poll is asked again with
    // backoff (or the server's Retry-After): a 503 while Redis is slow must not freeze the bar for good.
    clearTimeout(state.poll);
    const generation = ++state.pollGeneration;
    let failures = 0;
    const again = (ms) => { if (generation === state.pollGeneration) state.poll = setTimeout(tick, ms); };
    const tick = async () => {
      if (generation !== state.pollGeneration) return;  // another job is tracked now
      let s;
      try { s = await api("GET", "/v1/copy/jobs/" + jobId); } catch (e) {
        if (generation !== state.pollGeneration) return;
        if (!(e instanceof ApiError) || !e.transient) { fail(e); return; }
        failures += 1;
        const waitS = e.retryAfterS !== null ? Math.min(30, Math.max(1, e.retryAfterS)) : Math.min(30, 2 ** Math.min(failures, 5));
        $("job-text").textContent = t("bulk.retrying", { error: e.status || e.message, s: waitS });
        again(waitS * 1000);
        return;
      }
      if (generation !== state.pollGeneration) return;
      failures = 0;
      const pct = s.total ? Math.floor((100 * s.done) / s.total) : 100;
      $("job-progress").value = pct;
      $("job-progress").setAttribute("aria-valuetext", pct + "%");
      $("job-state").textContent = s.state; $("job-state").className = "badge " + s.state;
      const eta = s.eta_s === null || s.eta_s === undefined ? "—" : Math.round(s.eta_s) + "s";
      $("job-text").textContent = `${pct}% · ` + t("bulk.progress", { done: s.done, total: s.total, failed: s.failed, rate: s.rate_per_s ?? "—", eta }) + (s.message ? " · " + s.message : "");
      $("job-cancel").disabled = !(s.state === "queued" || s.state === "running");
      $("job-resume").disabled = s.state !== "cancelled";
      if (s.state === "completed" || s.state === "cancelled") { loadJobs(); return; }
      again(1000);
    };
    tick();
  }
  async function loadJobs() {
    let data;
    try { data = await api("GET", "/v1/copy/jobs?limit=10"); } catch (e) { return; }
    const list = clear($("jobs"));
    for (const j of data.jobs) {
      list.append(el("li", {}, el("code", {}, j.job_id.slice(0, 8)), el("span", { class: "badge " + j.state }, j.state), `${j.done}/${j.total}`,
        el("button", { type: "button", class: "link", onclick: () => track(j.job_id), "aria-label": t("bulk.open") + " " + j.job_id.slice(0, 8) }, t("bulk.open"))));
    }
  }
  async function loadQueue(jobId) {
    state.queueJob = jobId;
    let data;
    try { data = await api("GET", `/v1/studio/queue/${jobId}?limit=500`); } catch (e) { fail(e); return; }
    $("queue-count").textContent = t("queue.count", { n: data.items.length });
    const list = clear($("queue"));
    for (const item of data.items) {
      const first = item.variants[0];
      const product = { id: item.product_id, title: item.title };
      const source = { provider: item.provider, model: item.model, prompt_version: item.prompt_version, job_id: jobId };
      const open = () => openProduct(product, { jobId, variants: item.variants, source });
      list.append(el("li", { "data-product": item.product_id },
        el("strong", {}, item.title),
        el("span", { class: "badge " + (item.review ? item.review.status : item.status) }, item.review ? item.review.status : item.status),
        first ? el("span", {}, first.headline) : el("span", { class: "muted" }, item.error || ""),
        first && first.findings.length ? el("span", { class: "badge bad" }, `${first.findings.length} ⚠`) : null,
        first ? el("button", { type: "button", class: "link", onclick: () => quickApprove(item, jobId, open) }, t("var.approve")) : null,
        el("button", { type: "button", class: "link", onclick: open }, t("queue.edit")),
        el("button", { type: "button", class: "link", onclick: () => { state.product = product; state.jobId = jobId; openProduct(product); } }, t("queue.regenerate"))));
    }
  }
  async function quickApprove(item, jobId, open) {
    const v = item.variants[0];
    if (v.findings.length) { await open(); return; }  /* findings need a look (and an override) in the editor */
    const body = { product_id: item.product_id, decision: "approved", variant: { headline: v.headline, body: v.body, bullets: v.bullets, cta: v.cta },
      base_version: item.review ? item.review.row_version : 0, options: options(), source: { provider: item.provider, model: item.model, prompt_version: item.prompt_version, job_id: jobId } };
    try { await api("POST", "/v1/studio/reviews", body); } catch (e) { fail(e); return; }
    loadQueue(jobId);
  }

  document.addEventListener("DOMContentLoaded", () => {
    loadOptions();
    $("options").addEventListener("change", saveOptions);
    $("options").addEventListener("input", saveOptions);
    $("search-form").addEventListener("submit", (e) => { e.preventDefault(); loadProducts(); });
    $("generate-selected").addEventListener("click", async () => {
      const ids = [...state.selected];
      if (ids.length === 1) { const li = document.querySelector(`[data-product="${CSS.escape(ids[0])}"] .open-product`); if (li) li.click(); }
      else if (ids.length) await startJob(ids);
    });
    $("job-selected").addEventListener("click", () => { if (state.selected.size) startJob([...state.selected]); });
    $("upload-form").addEventListener("submit", upload);
    $("category-form").addEventListener("submit", categoryJob);
    $("job-cancel").addEventListener("click", async () => { try { await api("DELETE", "/v1/copy/jobs/" + state.job); } catch (e) { fail(e); } track(state.job); });
    $("job-resume").addEventListener("click", async () => { try { await api("POST", `/v1/copy/jobs/${state.job}/resume`); } catch (e) { fail(e); } track(state.job); });
    $("job-review").addEventListener("click", () => loadQueue(state.job));
    $("export-csv").addEventListener("click", () => download("/v1/studio/export/csv", "shopguide-approved-copy.csv").catch(fail));
    $("export-jsonl").addEventListener("click", () => download("/v1/studio/export/jsonl", "shopguide-approved-copy.jsonl").catch(fail));
    document.addEventListener("sg:key", () => { loadProducts(); loadJobs(); });
    SG.onLang(() => { renderVariants(); });
    $("var-product").textContent = t("var.none");
    loadProducts(); loadJobs();
    const last = sessionStorage.getItem(JOB_KEY);
    if (last) track(last);
  });
})();
