"""The recommendation data flow: understand → retrieve → render prompt → cache → provider chain →
validate output → respond.

Each step lives in its own module; this one only wires them in order and keeps
the timings. Cache, single-flight and the chain call are the shared flow
(:mod:`service.pipeline.flow`). It is shared by the HTTP view, the CLI and the
evaluation.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any

from cachetools import LRUCache, cached

from service.cache.keys import answer_key, normalize_text
from service.cache.singleflight import SingleFlight
from service.cache.store import AnswerCache
from service.catalog.load import Catalog
from service.errors import ServiceUnavailable
from service.ops.metrics import Metrics
from service.ops.privacy import Redactor
from service.ops.trace import RequestTrace
from service.output.explain import fact_summary
from service.output.prose import usable
from service.output.reconcile import reconcile
from service.output.schema import RecommendOutput
from service.pipeline.ask import Asker, Usage
from service.pipeline.flow import Answer, Flow, Outcome
from service.prompt.language import answer_language
from service.prompt.recommend import ENDPOINT, RecommendPrompts, Shortlist
from service.prompt.render import PromptRenderer
from service.provider.base import Completion
from service.provider.chain import AllProvidersFailed, ProviderChain
from service.respond.recommend import RecommendResponse
from service.retrieve.base import Candidate, Retriever
from service.retrieve.filters import merge_filters
from service.retrieve.understand import QueryUnderstanding, Understood
from service.settings import Settings
from service.validate.recommend import Filters, RecommendRequest

log = logging.getLogger(__name__)


def _retrieval_key(request: RecommendRequest) -> tuple[str, str, frozenset[str]]:
    """What retrieval depends on: the words, the filters, and which filters were set explicitly (they win over
    what understanding reads from the words; see merge_filters)."""
    filters = request.filters
    return request.query, filters.model_dump_json(), frozenset(filters.model_fields_set)


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
        self._catalog = catalog
        self._retriever = retriever
        self._chain = chain
        self._metrics = metrics
        self._understanding = understanding
        self._flow = Flow(settings=settings, cache=cache, flights=flights, chain=chain, metrics=metrics)
        self._asker = Asker(chain, metrics)
        # Small local models get a compact form of each request (see ChatRequest.compact).
        self._prompts = RecommendPrompts(
            settings, catalog, renderer, redactor or Redactor.from_settings(settings), compact=chain.wants_compact
        )
        self.prompt_version = self._prompts.version
        currencies = {p.currency for p in catalog.products if p.price is not None}
        self._catalog_currency = currencies.pop() if len(currencies) == 1 else None
        if settings.retrieval_memo:
            self._retrieve = cached(  # type: ignore[method-assign]
                LRUCache(maxsize=settings.retrieval_memo), key=_retrieval_key, lock=threading.Lock()
            )(self._retrieve)

    def run(self, request: RecommendRequest, request_id: str, trace: RequestTrace | None = None) -> RecommendResponse:
        """The whole flow for one request; ``trace`` (when given) receives what the access log reports.

        :raises ServiceUnavailable: only when degraded answers are disabled and no provider answered.
        """
        started = time.monotonic()
        deadline = started + self._settings.deadline_s
        understood, filters, found_candidates = self._retrieve(request)
        candidates = list(found_candidates)
        retrieval_ms = (time.monotonic() - started) * 1000
        language = answer_language(request.query, request.language)
        found = understood.found() if understood else None

        if not candidates:
            payload = self._payload([], fact_summary(0, language), None, None, degraded=False)
            if trace is not None:
                trace.answered(None, None, cached=False, degraded=False)
            answer = Answer(payload, 0.0, cached=False)
            return self._respond(answer, request_id, started, retrieval_ms, understood=found)

        shortlist = Shortlist(request, filters, understood, language, candidates)
        answer = self._flow.run(self._key(shortlist), functools.partial(self._answer, shortlist, deadline), deadline, trace)
        return self._respond(answer, request_id, started, retrieval_ms, understood=found)

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

    def _key(self, shortlist: Shortlist) -> str:
        request = shortlist.request
        user = request.user
        parts = {
            "prompt": [self._prompts.version, self._prompts.compact_version],
            "chain": self._chain.fingerprint(ENDPOINT),
            "model": self._settings.model_for(ENDPOINT),
            "params": [self._settings.temperature, self._settings.max_tokens],
            "query": normalize_text(request.query),
            "filters": shortlist.filters.model_dump(),
            "k": request.k,
            "language": shortlist.language,
            "profile": normalize_text(user.profile) if user and user.profile else None,
            "recent": list(user.recent_product_ids) if user else [],
            "candidates": [c.product.id for c in shortlist.candidates],
            "catalog": self._catalog.version,
        }
        return answer_key(self._settings.cache_prefix, ENDPOINT, parts)

    def _answer(self, shortlist: Shortlist, deadline: float) -> Outcome:
        started = time.monotonic()
        if not self._chain.providers:  # configured without any model: retrieval answers, by design
            return self._degraded(shortlist, started, failed=[], usage=Usage())
        k = min(shortlist.request.k, len(shortlist.candidates))
        language = shortlist.language
        usage = Usage()
        try:
            asked = self._asker.structured(
                self._prompts.chat(shortlist, deadline),
                RecommendOutput,
                usage,
                reask=lambda problem: self._prompts.reask(problem, k, language),
            )
        except AllProvidersFailed as exc:
            if not self._settings.degraded_answers:
                raise ServiceUnavailable(str(exc), deadline_exceeded=exc.deadline_exceeded) from exc
            log.warning("all providers failed; answering from retrieval", extra={"error": str(exc)})
            failed = [f"{name}:{err.kind}" for name, err in exc.failures]
            return self._degraded(shortlist, started, failed=failed, usage=usage)
        if asked.value is None:
            return self._degraded(shortlist, started, failed=asked.failed, usage=usage)
        payload = self._checked(asked.value, asked.completion, asked.failed, shortlist)
        return Outcome(payload, (time.monotonic() - started) * 1000, cacheable=True, usage=usage)

    def _checked(
        self, output: RecommendOutput, completion: Completion, failed: list[str], shortlist: Shortlist
    ) -> dict[str, Any]:
        """The model's picks held to the contract (real candidates, exactly k), its summary only when usable."""
        candidates, language = shortlist.candidates, shortlist.language
        fixed = reconcile(output, candidates, shortlist.request.k, shortlist.filters, language)
        summary = output.summary.strip()
        if not usable(summary, language, {c.product.id for c in candidates}):
            summary = fact_summary(len(fixed.items), language)
            self._metrics.invalid_output.labels("summary_replaced").inc()
        if fixed.replaced_reasons:
            self._metrics.invalid_output.labels("reason_replaced").inc(fixed.replaced_reasons)
        return self._payload(
            [item.model_dump() for item in fixed.items],
            summary,
            completion.provider,
            completion.model,
            degraded=False,
            fallback_from=failed,
            invalid_ids=fixed.invalid_ids,
            prompt_version=self._prompts.compact_version if completion.prompt_style == "compact" else None,
        )

    def _degraded(self, shortlist: Shortlist, started: float, *, failed: list[str], usage: Usage) -> Outcome:
        """Retrieval order with reasons from product facts; never cached, so a recovered model answers next time."""
        self._metrics.degraded.labels(ENDPOINT).inc()
        fixed = reconcile(None, shortlist.candidates, shortlist.request.k, shortlist.filters, shortlist.language)
        payload = self._payload(
            [item.model_dump() for item in fixed.items],
            fact_summary(len(fixed.items), shortlist.language),
            None,
            None,
            degraded=True,
            fallback_from=failed,
        )
        return Outcome(payload, (time.monotonic() - started) * 1000, cacheable=False, usage=usage)

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
        self, answer: Answer, request_id: str, started: float, retrieval_ms: float, *, understood: dict[str, Any] | None
    ) -> RecommendResponse:
        total_ms = (time.monotonic() - started) * 1000
        timings = {"retrieval": round(retrieval_ms, 3), "llm": round(answer.llm_ms, 3), "total": round(total_ms, 3)}
        return RecommendResponse.model_validate(
            {
                **answer.payload,
                "request_id": request_id,
                "cached": answer.cached,
                "understood": understood,
                "timings_ms": timings,
            }
        )
