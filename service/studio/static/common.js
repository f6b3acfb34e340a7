/* shopguide pages: language, API key (sessionStorage), fetch wrapper, safe DOM building. No innerHTML anywhere. */
"use strict";
(function () {
  const T = {
    en: {
      "title.studio": "Copy studio", "title.demo": "Storefront demo", "title.ops": "Ops", skip: "Skip to content",
      "nav.label": "Pages", "nav.studio": "Studio", "nav.demo": "Demo", "nav.ops": "Ops",
      "key.label": "API key", "key.use": "Use", "key.saved": "API key kept for this tab.", "key.needed": "Enter an API key first.",
      "find.title": "Products", "find.q": "Search products", "find.category": "Category", "find.brand": "Brand",
      "find.all_categories": "All categories", "find.all_brands": "All brands", "find.go": "Search",
      "find.generate_selected": "Generate for selected", "find.job_selected": "Job for selected", "find.select": "Select",
      "find.open": "Open", "find.none": "No products match.", "find.count": "{n} products",
      "opt.title": "Options", "opt.tone": "Tone", "opt.channel": "Channel", "opt.language": "Language", "opt.lang_product": "Product's",
      "opt.length": "Length", "opt.variants": "Variants", "opt.strict": "Strict", "opt.keywords": "Keywords (comma separated)",
      "opt.banned": "Banned words (comma separated)", "opt.audience": "Audience", "opt.voice": "Brand voice",
      "var.title": "Variants", "var.for": "Copy for {title}", "var.headline": "Headline", "var.body": "Body",
      "var.bullets": "Bullets (one per line)", "var.cta": "Call to action", "var.approve": "Approve", "var.reject": "Reject",
      "var.override": "Approve despite the findings", "var.reason": "Why (recorded)", "var.clean": "No findings.",
      "var.generating": "Writing copy…", "var.checking": "Checking…", "var.by": "by {provider} · {model} · prompt {prompt}",
      "var.degraded": "No model answered: copy built from product facts.", "var.dropped": "{n} variant(s) dropped: {why}",
      "var.approved": "Approved (version {v}).", "var.rejected": "Rejected (version {v}).", "var.history": "History",
      "var.edited": "edited", "var.overridden": "override: {why}", "var.none": "Pick a product and generate.",
      "kind.unsupported_claim": "Unsupported claim", "kind.compliance": "Compliance", "kind.banned": "Banned word", "kind.length": "Length",
      "bulk.title": "Bulk", "bulk.file": "Catalog file (CSV or JSONL)", "bulk.upload": "Upload and start", "bulk.category": "Category",
      "bulk.start_category": "Start category job", "bulk.job": "Job", "bulk.cancel": "Cancel", "bulk.resume": "Resume",
      "bulk.review": "Review results", "bulk.jobs": "Recent jobs", "bulk.progress": "{done}/{total} done · {failed} failed · {rate}/s · ETA {eta}",
      "bulk.open": "Open", "bulk.nofile": "Choose a file first.",
      "bulk.retrying": "Status unavailable ({error}); asking again in {s}s",
      "queue.title": "Review queue", "queue.count": "{n} results", "queue.edit": "Edit", "queue.regenerate": "Regenerate",
      "exp.title": "Export approved copy", "exp.csv": "Shopify CSV", "exp.jsonl": "JSONL",
      "demo.query": "What are you looking for?", "demo.ask": "Ask", "demo.try": "Try:", "demo.chips": "Understood constraints",
      "demo.remove": "Remove {what}", "demo.meta": "{ms} ms · {provider}", "demo.by_llm": "chosen by the model",
      "demo.by_retrieval": "chosen by retrieval", "demo.degraded": "degraded: retrieval only", "demo.none": "Nothing matched.",
      "demo.not_interested": "Not interested", "demo.bought": "Bought", "demo.sent": "Noted: the next answer takes it into account.",
      "chat.title": "Chat", "chat.say": "Message", "chat.send": "Send",
      "chip.price_max": "≤ {v}", "chip.price_min": "≥ {v}", "chip.category": "category: {v}", "chip.brand": "brand: {v}",
      "chip.exclude_terms": "not: {v}", "chip.exclude_brands": "not brand: {v}", "chip.cheap": "cheap", "chip.premium": "premium",
      "chip.currency": "currency: {v}", "chip.in_stock": "in stock",
      "ops.readonly": "Read-only; refreshes every 5 s.", "ops.chain": "Provider chain", "ops.provider": "Provider", "ops.model": "Model",
      "ops.breaker": "Breaker", "ops.failures": "Failures", "ops.rates": "Requests (per minute)", "ops.cache": "Cache and Redis",
      "ops.catalog": "Catalog", "ops.local": "Local model", "ops.jobs": "Jobs", "ops.db": "Database",
      "ops.config": "Effective configuration (secrets masked)", "ops.var": "Variable", "ops.value": "Value", "ops.none": "none in the chain",
      "err.network": "The service did not answer.",
    },
    zh: {
      "title.studio": "文案工作台", "title.demo": "导购演示", "title.ops": "运维", skip: "跳到正文",
      "nav.label": "页面", "nav.studio": "工作台", "nav.demo": "演示", "nav.ops": "运维",
      "key.label": "API 密钥", "key.use": "使用", "key.saved": "密钥仅保存在本标签页。", "key.needed": "请先输入 API 密钥。",
      "find.title": "商品", "find.q": "搜索商品", "find.category": "类目", "find.brand": "品牌",
      "find.all_categories": "全部类目", "find.all_brands": "全部品牌", "find.go": "搜索",
      "find.generate_selected": "为所选生成", "find.job_selected": "为所选建任务", "find.select": "选择",
      "find.open": "打开", "find.none": "没有匹配的商品。", "find.count": "{n} 个商品",
      "opt.title": "选项", "opt.tone": "语气", "opt.channel": "渠道", "opt.language": "语言", "opt.lang_product": "跟随商品",
      "opt.length": "长度", "opt.variants": "版本数", "opt.strict": "严格", "opt.keywords": "关键词（逗号分隔）",
      "opt.banned": "禁用词（逗号分隔）", "opt.audience": "受众", "opt.voice": "品牌调性",
      "var.title": "文案版本", "var.for": "{title} 的文案", "var.headline": "标题", "var.body": "正文",
      "var.bullets": "卖点（每行一条）", "var.cta": "行动号召", "var.approve": "通过", "var.reject": "驳回",
      "var.override": "忽略问题并通过", "var.reason": "理由（会被记录）", "var.clean": "未发现问题。",
      "var.generating": "正在生成…", "var.checking": "正在检查…", "var.by": "{provider} · {model} · 提示词 {prompt}",
      "var.degraded": "模型未响应：文案由商品信息生成。", "var.dropped": "丢弃了 {n} 个版本：{why}",
      "var.approved": "已通过（第 {v} 版）。", "var.rejected": "已驳回（第 {v} 版）。", "var.history": "历史版本",
      "var.edited": "已编辑", "var.overridden": "强制通过：{why}", "var.none": "选择商品并生成文案。",
      "kind.unsupported_claim": "无依据的说法", "kind.compliance": "合规", "kind.banned": "禁用词", "kind.length": "长度",
      "bulk.title": "批量", "bulk.file": "商品文件（CSV 或 JSONL）", "bulk.upload": "上传并开始", "bulk.category": "类目",
      "bulk.start_category": "按类目开始", "bulk.job": "任务", "bulk.cancel": "取消", "bulk.resume": "继续",
      "bulk.review": "审核结果", "bulk.jobs": "最近的任务", "bulk.progress": "已完成 {done}/{total} · 失败 {failed} · {rate}/秒 · 预计 {eta}",
      "bulk.open": "打开", "bulk.nofile": "请先选择文件。",
      "bulk.retrying": "暂时无法获取进度（{error}），{s} 秒后重试",
      "queue.title": "审核队列", "queue.count": "{n} 条结果", "queue.edit": "编辑", "queue.regenerate": "重新生成",
      "exp.title": "导出已通过的文案", "exp.csv": "Shopify CSV", "exp.jsonl": "JSONL",
      "demo.query": "想买点什么？", "demo.ask": "提问", "demo.try": "试试：", "demo.chips": "理解到的条件",
      "demo.remove": "去掉 {what}", "demo.meta": "{ms} 毫秒 · {provider}", "demo.by_llm": "模型推荐",
      "demo.by_retrieval": "检索补充", "demo.degraded": "降级：仅检索", "demo.none": "没有找到合适的商品。",
      "demo.not_interested": "不感兴趣", "demo.bought": "已购买", "demo.sent": "已记录：下一次推荐会考虑。",
      "chat.title": "对话", "chat.say": "消息", "chat.send": "发送",
      "chip.price_max": "≤ {v}", "chip.price_min": "≥ {v}", "chip.category": "类目：{v}", "chip.brand": "品牌：{v}",
      "chip.exclude_terms": "不要：{v}", "chip.exclude_brands": "不要品牌：{v}", "chip.cheap": "便宜", "chip.premium": "高端",
      "chip.currency": "币种：{v}", "chip.in_stock": "有货",
      "ops.readonly": "只读；每 5 秒刷新。", "ops.chain": "模型链路", "ops.provider": "提供方", "ops.model": "模型",
      "ops.breaker": "熔断器", "ops.failures": "失败", "ops.rates": "请求（每分钟）", "ops.cache": "缓存与 Redis",
      "ops.catalog": "商品目录", "ops.local": "本地模型", "ops.jobs": "任务", "ops.db": "数据库",
      "ops.config": "生效配置（已隐藏密钥）", "ops.var": "变量", "ops.value": "值", "ops.none": "链路中没有",
      "err.network": "服务没有响应。",
    },
  };
  const store = { lang: "sg.lang", key: "sg.key" };
  let lang = localStorage.getItem(store.lang) || ((navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en");

  function t(key, vars) {
    let s = (T[lang] && T[lang][key]) || T.en[key] || key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
    return s;
  }
  function apply(root) {
    (root || document).querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
    (root || document).querySelectorAll("[data-i18n-attr]").forEach((n) => {
      for (const pair of n.dataset.i18nAttr.split(";")) { const [attr, key] = pair.split(":"); n.setAttribute(attr, t(key)); }
    });
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    const toggle = document.getElementById("lang-toggle");
    if (toggle) toggle.textContent = lang === "zh" ? "English" : "中文";
  }
  /* el("li", {class: "x", onclick: fn}, "text", child): text is always a text node (escaped by construction). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function say(message) { const s = document.getElementById("status"); if (s) s.textContent = message || ""; }
  function alertBox(message) {
    const a = document.getElementById("alert");
    if (!a) return;
    a.hidden = !message; a.textContent = message || "";
  }
  class ApiError extends Error {
    constructor(status, body, retryAfter) {
      super((body && body.error && body.error.message) || ("HTTP " + status));
      this.status = status; this.body = body;
      const seconds = Number(retryAfter);
      this.retryAfterS = retryAfter && Number.isFinite(seconds) ? seconds : null;  // Retry-After in seconds, when sent
    }
    // worth asking again: the network, a timeout, a rate limit or a dependency down (not a bad key or a gone job)
    get transient() { return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500; }
  }
  async function api(method, path, body, opts) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(store.key);
    if (key) headers.Authorization = "Bearer " + key;
    let payload;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    let response;
    try { response = await fetch(path, { method, headers, body: payload, credentials: "omit", cache: "no-store" }); }
    catch (e) { throw new ApiError(0, { error: { message: t("err.network") } }); }
    if (opts && opts.raw) { if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null), response.headers.get("Retry-After")); return response; }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const err = new ApiError(response.status, data, response.headers.get("Retry-After"));
      if (response.status === 401) alertBox(t("key.needed") + " " + err.message);
      throw err;
    }
    return data;
  }
  function debounce(fn, ms) { let timer; return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); }; }
  async function download(path, filename) {
    const response = await api("GET", path, undefined, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const a = el("a", { href: url, download: filename });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 5000);
  }
  function money(price, currency) {
    if (price === null || price === undefined) return "";
    try { return new Intl.NumberFormat(lang === "zh" ? "zh-CN" : "en", { style: "currency", currency: currency || "CNY" }).format(price); }
    catch (e) { return price + " " + (currency || ""); }
  }
  const listeners = [];
  function onLang(fn) { listeners.push(fn); }
  document.addEventListener("DOMContentLoaded", () => {
    apply();
    document.getElementById("lang-toggle").addEventListener("click", () => {
      lang = lang === "zh" ? "en" : "zh"; localStorage.setItem(store.lang, lang); apply(); listeners.forEach((fn) => fn(lang));
    });
    const form = document.getElementById("key-form");
    const input = document.getElementById("api-key");
    if (input) input.value = sessionStorage.getItem(store.key) || "";
    form.addEventListener("submit", (e) => {
      e.preventDefault(); sessionStorage.setItem(store.key, input.value.trim()); alertBox(""); say(t("key.saved"));
      document.dispatchEvent(new CustomEvent("sg:key"));
    });
  });
  window.SG = { t, apply, el, clear, say, alertBox, api, ApiError, debounce, download, money, onLang, get lang() { return lang; } };
})();
