"""The recommendation data flow: retrieve → render prompt → cache → provider chain → validate output → respond.

Each step lives in its own module; this one only wires them in order and keeps
the timings. It is shared by the HTTP view and the CLI.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
from cachetools import LRUCache, cached

from service.cache.keys import answer_key, normalize_text
from service.cache.singleflight import Computed, SingleFlight
from service.cache.store import AnswerCache
from service.catalog.load import Catalog
from service.errors import InvalidOutput, ProviderError, ServiceUnavailable
from service.ops.metrics import Metrics
from service.ops.privacy import Redactor
from service.ops.trace import RequestTrace
from service.output.explain import fact_summary
from service.output.parse import parse_output
from service.output.prose import usable
from service.output.reconcile import reconcile
from service.output.schema import RECOMMEND_SCHEMA_NAME, RecommendOutput, recommend_grammar_schema, recommend_schema
from service.prompt.language import answer_language, language_name
from service.prompt.render import PromptRenderer
from service.provider.base import ChatRequest, Completion
from service.provider.chain import AllProvidersFailed, ProviderChain
from service.respond.recommend import RecommendResponse
from service.retrieve.base import Candidate, Retriever
from service.retrieve.understand import QueryUnderstanding, Understood, merge_filters
from service.settings import Settings
from service.validate.recommend import Filters, RecommendRequest

log = logging.getLogger(__name__)

ENDPOINT = "recommend"
COMPACT = "recommend_compact"  # the templates of the compact form for small local models
LOCAL = "local"
_DESCRIPTION_CHARS = 280
LOCAL_REASON_CHARS = 120
LOCAL_SUMMARY_CHARS = 100
_MAX_TAGS = 8
_MAX_ATTRIBUTES = 10
_COMPACT_KEYS = ("id", "title", "brand", "price", "currency", "tags")
_COMPACT_TAGS = 3


def prompt_facts(candidate: Candidate) -> dict[str, Any]:
    """What the model sees of one candidate: the facts that matter, trimmed to keep prompts short."""
    product = candidate.product
    facts: dict[str, Any] = {"id": product.id, "title": product.title}
    if product.brand:
        facts["brand"] = product.brand
    if product.category:
        facts["category"] = product.category
    if product.price is not None:
        facts["price"] = product.price
        if product.currency:
            facts["currency"] = product.currency
    if product.attributes:
        facts["attributes"] = dict(list(product.attributes.items())[:_MAX_ATTRIBUTES])
    if product.tags:
        facts["tags"] = list(product.tags[:_MAX_TAGS])
    if product.description:
        text = product.description
        facts["description"] = text if len(text) <= _DESCRIPTION_CHARS else text[: _DESCRIPTION_CHARS - 1] + "…"
    if not product.in_stock:
        facts["in_stock"] = False
    return facts


def compact_facts(candidate: Candidate) -> dict[str, Any]:
    """The few facts a small local model gets: its prompt prefill costs seconds per thousand tokens on a CPU."""
    facts = prompt_facts(candidate)
    compact = {key: facts[key] for key in _COMPACT_KEYS if key in facts}
    if "tags" in compact:
        compact["tags"] = compact["tags"][:_COMPACT_TAGS]
    return compact


def active_filters(filters: Filters, understood: Understood | None = None) -> dict[str, Any]:
    """The constraints worth telling the model about: set filters, plus what the shopper ruled out or wants."""
    data = {k: v for k, v in filters.model_dump(exclude_none=True).items() if v != []}
    if data.get("in_stock") is True:
        data.pop("in_stock")
    if understood is not None:
        if understood.cheap:
            data["prefers"] = "lower prices"
        elif understood.premium:
            data["prefers"] = "premium quality over price"
    return data


def _retrieval_key(request: RecommendRequest) -> tuple[str, str, frozenset[str]]:
    """What retrieval depends on: the words, the filters, and which filters were set explicitly (they win over
    what understanding reads from the words; see merge_filters)."""
    filters = request.filters
    return request.query, filters.model_dump_json(), frozenset(filters.model_fields_set)


@dataclass(frozen=True)
class Outcome:
    """The cacheable part of an answer: everything but request id, cache flag and timings."""

    payload: dict[str, Any]
    llm_ms: float
    cacheable: bool
    tokens_in: int = 0
    tokens_out: int = 0


@dataclass
class _Usage:
    """Tokens spent on one answer, across the first call and a re-ask."""

    tokens_in: int = 0
    tokens_out: int = 0

    def add(self, completion: Completion) -> None:
        self.tokens_in += completion.tokens_in
        self.tokens_out += completion.tokens_out


class RecommendPipeline:
    """Answers a :class:`RecommendRequest` with explained, in-catalog products."""

    def __init__(
        self,
        *,
        settings: Settings,
        catalog: Catalog,
        retriever: Retriever,
        renderer: PromptRenderer,
        cache: AnswerCache,
        flights: SingleFlight,
        chain: ProviderChain,
        metrics: Metrics,
        understanding: QueryUnderstanding | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self._settings = settings
        # Shopper text is masked before it is rendered into a prompt (see service.ops.privacy).
        self._redactor = redactor or Redactor.from_settings(settings)
        self._catalog = catalog
        self._retriever = retriever
        self._renderer = renderer
        self._cache = cache
        self._flights = flights
        self._chain = chain
        self._metrics = metrics
        self._understanding = understanding
        currencies = {p.currency for p in catalog.products if p.price is not None}
        self._catalog_currency = currencies.pop() if len(currencies) == 1 else None
        self._schema = recommend_schema()
        self.prompt_version = renderer.version(ENDPOINT)
        # Small local models get a compact form of each request (see ChatRequest.compact).
        self._compact_version = renderer.version(COMPACT) if LOCAL in settings.provider_chain else None
        if settings.retrieval_memo:
            self._retrieve = cached(  # type: ignore[method-assign]
                LRUCache(maxsize=settings.retrieval_memo), key=_retrieval_key, lock=threading.Lock()
            )(self._retrieve)

    def run(self, request: RecommendRequest, request_id: str, trace: RequestTrace | None = None) -> RecommendResponse:
        """The whole flow for one request; ``trace`` (when given) receives what the access log reports.

        :raises ServiceUnavailable: only when degraded answers are disabled and no provider answered.
        """
        trace = trace if trace is not None else RequestTrace()
        started = time.monotonic()
        deadline = started + self._settings.deadline_s
        understood, filters, found_candidates = self._retrieve(request)
        candidates = list(found_candidates)
        retrieval_ms = (time.monotonic() - started) * 1000
        language = answer_language(request.query, request.language)
        found = understood.found() if understood else None

        if not candidates:
            payload = self._payload([], fact_summary(0, language), None, None, degraded=False)
            return self._respond(
                payload, request_id, started, retrieval_ms, 0.0, cached=False, understood=found, trace=trace
            )

        key = self._key(request, filters, language, candidates)
        hit = self._cache.get(key)
        if hit is not None:
            return self._respond(
                orjson.loads(hit), request_id, started, retrieval_ms, 0.0, cached=True, understood=found, trace=trace
            )

        def compute() -> Computed:
            outcome = self._answer(request, filters, understood, language, candidates, deadline)
            blob = orjson.dumps(
                {
                    "payload": outcome.payload,
                    "llm_ms": outcome.llm_ms,
                    "tokens": [outcome.tokens_in, outcome.tokens_out],
                }
            )
            if not outcome.cacheable:
                return Computed(blob)
            # written by the flight, in the round trip that publishes the result and releases its lock
            return Computed(blob, key, orjson.dumps(outcome.payload), self._ttl(outcome.payload))

        flight = self._flights.do(key, compute, deadline, self._cache)
        result = orjson.loads(flight.value)
        if flight.shared:
            self._metrics.coalesced.inc()
            trace.coalesced = True  # the tokens were spent, and logged, by the request that led the flight
        else:
            trace.add_usage(*result.get("tokens", (0, 0)))
        return self._respond(
            result["payload"],
            request_id,
            started,
            retrieval_ms,
            result["llm_ms"],
            cached=False,
            understood=found,
            trace=trace,
        )

    # -- steps -----------------------------------------------------------------------------
    def _retrieve(self, request: RecommendRequest) -> tuple[Understood | None, Filters, tuple[Candidate, ...]]:
        """Understanding, then retrieval; memoized per (query, filters) when ``retrieval_memo`` is on.

        What it returns is shared by every request with the same words and filters: callers copy, never mutate.
        """
        understood, filters, search_text = self._understand(request)
        return understood, filters, tuple(self._retriever.search(search_text, filters, self._settings.candidates))

    def _understand(self, request: RecommendRequest) -> tuple[Understood | None, Filters, str]:
        """Constraints from the shopper's words, merged under the request's explicit filters."""
        if self._understanding is None:
            return None, request.filters, request.query
        understood = self._understanding.parse(request.query)
        filters = merge_filters(
            request.filters, understood, request.filters.model_fields_set, catalog_currency=self._catalog_currency
        )
        return understood, filters, understood.cleaned_query or request.query

    def _key(self, request: RecommendRequest, filters: Filters, language: str, candidates: list[Candidate]) -> str:
        user = request.user
        parts = {
            "prompt": [self.prompt_version, self._compact_version],
            "chain": self._chain.fingerprint(ENDPOINT),
            "model": self._settings.model_for(ENDPOINT),
            "params": [self._settings.temperature, self._settings.max_tokens],
            "query": normalize_text(request.query),
            "filters": filters.model_dump(),
            "k": request.k,
            "language": language,
            "profile": normalize_text(user.profile) if user and user.profile else None,
            "recent": list(user.recent_product_ids) if user else [],
            "candidates": [c.product.id for c in candidates],
            "catalog": self._catalog.version,
        }
        return answer_key(self._settings.cache_prefix, ENDPOINT, parts)

    def _ttl(self, payload: dict[str, Any]) -> float:
        if payload["provider"] == self._chain.primary:
            return self._settings.cache_ttl_s
        # A fallback's answer is kept briefly, so the primary's answer returns soon after it recovers.
        return min(self._settings.cache_ttl_s, self._settings.cache_fallback_ttl_s)

    def _messages(
        self,
        request: RecommendRequest,
        filters: Filters,
        understood: Understood | None,
        language: str,
        candidates: list[Candidate],
    ) -> tuple[dict[str, str], ...]:
        profile = None
        if request.user and (request.user.profile or request.user.recent_product_ids):
            recent = [self._catalog.get(pid) for pid in request.user.recent_product_ids]
            profile = {
                k: v
                for k, v in {
                    "preferences": self._redactor.redact(request.user.profile) if request.user.profile else None,
                    "recently_viewed": [p.title for p in recent if p is not None][:10],
                }.items()
                if v
            }
        rendered = self._renderer.render(
            ENDPOINT,
            query=self._redactor.redact(request.query),
            k=min(request.k, len(candidates)),
            language_name=language_name(language),
            candidates=[prompt_facts(c) for c in candidates],
            filters=active_filters(filters, understood),
            profile=profile,
        )
        return rendered.messages

    def _compact_chat(
        self,
        request: RecommendRequest,
        filters: Filters,
        understood: Understood | None,
        language: str,
        candidates: list[Candidate],
    ) -> ChatRequest:
        """The request for a small local model: the top candidates, terse facts, fewer picks, greedy decoding.

        Picks it does not make are filled from retrieval order, as for any model that picks fewer than k.
        """
        few = candidates[: self._settings.local_candidates]
        k = max(1, min(request.k, self._settings.local_max_picks, len(few)))
        rendered = self._renderer.render(
            COMPACT,
            query=self._redactor.redact(request.query),
            k=k,
            language_name=language_name(language),
            candidates=[compact_facts(c) for c in few],
            filters=active_filters(filters, understood),
        )
        return ChatRequest(
            messages=rendered.messages,
            schema_name=RECOMMEND_SCHEMA_NAME,
            schema=self._schema,
            grammar_schema=recommend_grammar_schema(
                [c.product.id for c in few], k, reason_max_chars=LOCAL_REASON_CHARS, summary_max_chars=LOCAL_SUMMARY_CHARS
            ),
            deadline=0.0,  # replaced by the caller's deadline in ChatRequest.for_small_model
            temperature=self._settings.local_temperature,
            max_tokens=self._settings.local_max_new_tokens,
            endpoint=ENDPOINT,
        )

    def _answer(
        self,
        request: RecommendRequest,
        filters: Filters,
        understood: Understood | None,
        language: str,
        candidates: list[Candidate],
        deadline: float,
    ) -> Outcome:
        started = time.monotonic()
        if not self._chain.providers:  # configured without any model: retrieval answers, by design
            return self._degraded(request, filters, language, candidates, started, failed=[])
        k = min(request.k, len(candidates))
        chat = ChatRequest(
            messages=self._messages(request, filters, understood, language, candidates),
            schema_name=RECOMMEND_SCHEMA_NAME,
            schema=self._schema,  # hosted providers; a local one constrains its compact form's grammar
            deadline=deadline,
            temperature=self._settings.temperature,
            max_tokens=self._settings.max_tokens,
            endpoint=ENDPOINT,
            model=self._settings.model_for(ENDPOINT),
            compact=(
                functools.partial(self._compact_chat, request, filters, understood, language, candidates)
                if self._compact_version
                else None
            ),
        )
        completion: Completion | None = None
        output: RecommendOutput | None = None
        failed: list[str] = []
        usage = _Usage()
        try:
            completion = self._chain.complete(chat)
            self._count_call(completion)
            usage.add(completion)
            failed = list(completion.fallback_from)
            output = self._validated(completion, chat, k, language, usage)
            if output is None:
                failed.append(f"{completion.provider}:InvalidOutput")
        except AllProvidersFailed as exc:
            self._count_failures(exc)
            failed = [f"{name}:{err.kind}" for name, err in exc.failures]
            if not self._settings.degraded_answers:
                raise ServiceUnavailable(str(exc), deadline_exceeded=exc.deadline_exceeded) from exc
            log.warning("all providers failed; answering from retrieval", extra={"error": str(exc)})
        if output is None or completion is None:
            degraded = self._degraded(request, filters, language, candidates, started, failed=failed)
            return Outcome(degraded.payload, degraded.llm_ms, False, usage.tokens_in, usage.tokens_out)
        fixed = reconcile(output, candidates, request.k, filters, language)
        summary = output.summary.strip()
        if not usable(summary, language, {c.product.id for c in candidates}):
            summary = fact_summary(len(fixed.items), language)
            self._metrics.invalid_output.labels("summary_replaced").inc()
        if fixed.replaced_reasons:
            self._metrics.invalid_output.labels("reason_replaced").inc(fixed.replaced_reasons)
        payload = self._payload(
            [item.model_dump() for item in fixed.items],
            summary,
            completion.provider,
            completion.model,
            degraded=False,
            fallback_from=completion.fallback_from,
            invalid_ids=fixed.invalid_ids,
            prompt_version=self._compact_version if completion.provider == LOCAL else None,
        )
        return Outcome(
            payload=payload,
            llm_ms=(time.monotonic() - started) * 1000,
            cacheable=True,
            tokens_in=usage.tokens_in,
            tokens_out=usage.tokens_out,
        )

    def _degraded(
        self,
        request: RecommendRequest,
        filters: Filters,
        language: str,
        candidates: list[Candidate],
        started: float,
        *,
        failed: list[str],
    ) -> Outcome:
        """Retrieval order with reasons from product facts; never cached, so a recovered model answers next time."""
        self._metrics.degraded.labels(ENDPOINT).inc()
        fixed = reconcile(None, candidates, request.k, filters, language)
        payload = self._payload(
            [item.model_dump() for item in fixed.items],
            fact_summary(len(fixed.items), language),
            None,
            None,
            degraded=True,
            fallback_from=failed,
        )
        return Outcome(payload=payload, llm_ms=(time.monotonic() - started) * 1000, cacheable=False)

    def _validated(
        self, completion: Completion, chat: ChatRequest, k: int, language: str, usage: _Usage
    ) -> RecommendOutput | None:
        """Parse (with one repair), then re-ask once; None when the model still does not comply."""
        try:
            parsed = parse_output(completion.text, RecommendOutput, provider=completion.provider)
            if parsed.repaired:
                self._metrics.invalid_output.labels("repaired").inc()
            return parsed.value
        except InvalidOutput as first:
            self._metrics.invalid_output.labels("reask").inc()
            problem = str(first)
        reask = self._renderer.render_message(
            ENDPOINT, "reask", problem=problem, k=k, language_name=language_name(language)
        )
        retry = chat.follow_up(completion.text, reask)
        try:
            second = self._chain.complete(retry)
            self._count_call(second)
            usage.add(second)
            return parse_output(second.text, RecommendOutput, provider=second.provider).value
        except ProviderError as exc:
            self._metrics.invalid_output.labels("failed").inc()
            log.warning("model output invalid after re-ask; answering from retrieval", extra={"error": str(exc)})
            return None

    def _count_call(self, completion: Completion) -> None:
        self._metrics.llm_call(completion.provider, completion.model, "ok", completion.tokens_in, completion.tokens_out)
        for failed in completion.fallback_from:
            name, _, kind = failed.partition(":")
            self._metrics.llm_call(name, "", kind or "error")
            self._metrics.fallback(name, completion.provider)

    def _count_failures(self, exc: AllProvidersFailed) -> None:
        for name, failure in exc.failures:
            self._metrics.llm_call(name, "", failure.kind)

    def _payload(
        self,
        items: list[dict[str, Any]],
        summary: str,
        provider: str | None,
        model: str | None,
        *,
        degraded: bool,
        fallback_from: list[str] | None = None,
        invalid_ids: int = 0,
        prompt_version: str | None = None,
    ) -> dict[str, Any]:
        return {
            "items": items,
            "summary": summary,
            "provider": provider,
            "model": model,
            "degraded": degraded,
            "prompt_version": prompt_version or self.prompt_version,
            "fallback_from": fallback_from or [],
            "invalid_ids_dropped": invalid_ids,
        }

    def _respond(
        self,
        payload: dict[str, Any],
        request_id: str,
        started: float,
        retrieval_ms: float,
        llm_ms: float,
        *,
        cached: bool,
        understood: dict[str, Any] | None,
        trace: RequestTrace,
    ) -> RecommendResponse:
        total_ms = (time.monotonic() - started) * 1000
        trace.provider = payload["provider"]
        trace.model = payload["model"]
        trace.cached = cached
        trace.degraded = payload["degraded"]
        return RecommendResponse.model_validate(
            {
                **payload,
                "request_id": request_id,
                "cached": cached,
                "understood": understood,
                "timings_ms": {"retrieval": round(retrieval_ms, 3), "llm": round(llm_ms, 3), "total": round(total_ms, 3)},
            }
        )
