/* Storefront demo: ask, show cards and the understood constraints as removable chips; chat and events when present. */
"use strict";
(function () {
  const { t, el, clear, say, alertBox, api, money } = window.SG;
  const $ = (id) => document.getElementById(id);
  const USER_KEY = "sg.demo.user";
  const state = { query: "", removed: {}, last: null, features: { chat: false, events: false }, session: null };
  /* Understood constraints and the explicit filter that overrides each when its chip is removed. */
  const REMOVABLE = { price_max: null, price_min: null, category: null, brand: null, exclude_terms: [], exclude_brands: [], currency: null };

  function user() {
    let id = localStorage.getItem(USER_KEY);
    if (!id) { id = "demo-" + Math.random().toString(36).slice(2, 10); localStorage.setItem(USER_KEY, id); }
    return id;
  }
  async function features() {
    try {
      const doc = await (await fetch("/openapi.json", { credentials: "omit" })).json();
      state.features.chat = !!(doc.paths && doc.paths["/v1/chat"]);
      state.features.events = !!(doc.paths && doc.paths["/v1/events"]);
    } catch (e) { /* the demo works without them */ }
    $("chat").hidden = !state.features.chat;
  }
  async function ask(query) {
    state.query = query;
    const body = { query, k: 6 };
    const filters = {};
    for (const [name, value] of Object.entries(state.removed)) filters[name] = value;
    if (Object.keys(filters).length) body.filters = filters;
    if (state.features.events) body.user = { id: user() };
    say("…");
    let answer;
    const started = performance.now();
    try { answer = await api("POST", "/v1/recommend", body); } catch (e) { alertBox(e.message); say(""); return; }
    alertBox(""); say("");
    state.last = answer;
    render(answer, Math.round(performance.now() - started));
  }
  function chips(understood) {
    const list = clear($("chips"));
    for (const [name, value] of Object.entries(understood || {})) {
      if (name === "cleaned_query" || value === null || value === false || (Array.isArray(value) && !value.length)) continue;
      if (name in state.removed) continue;
      const text = t("chip." + name, { v: Array.isArray(value) ? value.join(", ") : value });
      const removable = name in REMOVABLE;
      list.append(el("li", { "data-chip": name }, el("span", {}, text),
        removable ? el("button", { type: "button", "aria-label": t("demo.remove", { what: text }), onclick: () => { state.removed[name] = REMOVABLE[name]; ask(state.query); } }, "×") : null));
    }
  }
  function render(answer, ms) {
    chips(answer.understood);
    const provider = answer.degraded ? t("demo.degraded") : `${answer.provider} · ${answer.model || ""}`;
    $("meta").textContent = t("demo.meta", { ms: Math.round(answer.timings_ms ? answer.timings_ms.total : ms), provider }) + (answer.cached ? " · cache" : "");
    $("summary").textContent = answer.summary || "";
    const cards = clear($("cards"));
    if (!answer.items.length) cards.append(el("li", { class: "muted" }, t("demo.none")));
    answer.items.forEach((item, position) => {
      const placeholder = () => el("div", { class: "img-none", "aria-hidden": "true" });
      const img = item.image_url
        ? el("img", { src: item.image_url, alt: item.title, loading: "lazy", onerror: (e) => e.target.replaceWith(placeholder()) })
        : placeholder();
      cards.append(el("li", { class: "card", "data-product": item.id }, img,
        el("h2", { class: "title" }, item.title),
        el("span", { class: "price" }, money(item.price, item.currency)),
        el("p", { class: "reason" }, item.reason),
        el("span", { class: "badge " + (item.source === "llm" ? "ok" : "") }, item.source === "llm" ? t("demo.by_llm") : t("demo.by_retrieval")),
        state.features.events ? el("p", { class: "row" },
          el("button", { type: "button", class: "secondary not-interested", onclick: () => event(item.id, "dismiss", position) }, t("demo.not_interested")),
          el("button", { type: "button", class: "secondary bought", onclick: () => event(item.id, "purchase", position) }, t("demo.bought"))) : null));
    });
  }
  /* Issue 12's contract: a batch of events; the answer that showed the product is its recommendation_id. */
  async function event(productId, type, position) {
    const one = { type, user_id: user(), product_id: productId, position };
    if (state.last && state.last.request_id) one.recommendation_id = state.last.request_id;
    try { await api("POST", "/v1/events", { events: [one] }); } catch (e) { alertBox(e.message); return; }
    if (state.query) await ask(state.query);
    say(t("demo.sent"));
  }
  async function chat(e) {
    e.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text) return;
    $("chat-input").value = "";
    $("chat-log").append(el("li", { class: "you" }, text));
    const body = { message: text };
    if (state.session) body.session_id = state.session;
    let answer;
    try { answer = await api("POST", "/v1/chat", body); } catch (err) { alertBox(err.message); return; }
    state.session = answer.session_id || state.session;
    $("chat-log").append(el("li", {}, answer.reply || answer.summary || ""));
    if (answer.question && answer.question.text) {
      $("chat-log").append(el("li", { class: "question" }, answer.question.text, " ",
        (answer.question.options || []).map((o) => el("button", { type: "button", class: "link", onclick: () => { $("chat-input").value = o; $("chat-form").requestSubmit(); } }, o))));
    }
    if (answer.items) { state.last = answer; render(answer, 0); }
  }
  document.addEventListener("DOMContentLoaded", () => {
    features();
    $("ask").addEventListener("submit", (e) => { e.preventDefault(); const q = $("query").value.trim(); if (q) { state.removed = {}; ask(q); } });
    document.querySelectorAll(".example").forEach((b) => b.addEventListener("click", () => { $("query").value = b.textContent; state.removed = {}; ask(b.textContent); }));
    $("chat-form").addEventListener("submit", chat);
    SG.onLang(() => { if (state.last) render(state.last, 0); });
  });
})();
