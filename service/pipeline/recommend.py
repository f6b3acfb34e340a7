"""The recommendation data flow: understand → retrieve → personalize → render prompt → cache → provider chain →
validate output → respond (and, for a known shopper, the impression logged).

Without a query ("for you"), the personalize step proposes the candidates itself
(:meth:`Personalizer.for_you`); with one it re-ranks retrieval's (:meth:`Personalizer.rerank`).

Each step lives in its own module; this one only wires them in order and keeps
the timings. Cache, single-flight and the chain call are the shared flow
(:mod:`service.pipeline.flow`). It is shared by the HTTP view, the CLI and the
evaluation.
"""

from __future__ import annotations

import dataclasses
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
from service.events.store import EventStoreUnavailable, ImpressionRecord
from service.ops.metrics import Metrics
from service.ops.privacy import Redactor
from service.ops.trace import RequestTrace
from service.output.explain import fact_summary
from service.output.prose import usable
from service.output.reconcile import ReasonCheck, candidate_item, reconcile
from service.output.sanitize import ProseSanitizer, own_data
from service.output.schema import RecommendOutput
from service.personalize.contract import Signals
from service.personalize.step import NO_HISTORY, NOBODY, Personalizer, Shopper, annotate
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
from service.stream.output import OutputStream
from service.validate.recommend import Filters, RecommendRequest

log = logging.getLogger(__name__)


def _retrieval_key(request: RecommendRequest, n: int) -> tuple[str | None, str, frozenset[str], int]:
    """What retrieval depends on: the words, the filters, which filters were set explicitly (they win over
    what understanding reads from the words; see merge_filters), and how many candidates."""
    filters = request.filters
    return request.query, filters.model_dump_json(), frozenset(filters.model_fields_set), n


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
        personalizer: Personalizer | None = None,
    ) -> None:
        self._settings = settings
        self._personalizer = personalizer
        # a shopper's affinity re-ranks a wider pool than the model sees
        self._pool = max(settings.candidates, settings.personalize_pool) if personalizer else settings.candidates
        self._catalog = catalog
        self._retriever = retriever
        self._chain = chain
        self._metrics = metrics
        self._sanitizer = ProseSanitizer(lambda kind, n: metrics.output_sanitized(ENDPOINT, kind, n))
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

    def run(
        self,
        request: RecommendRequest,
        request_id: str,
        trace: RequestTrace | None = None,
        stream: OutputStream | None = None,
    ) -> RecommendResponse:
        """The whole flow for one request; ``trace`` (when given) receives what the access log reports.

        ``stream`` (a streaming client) receives ``understood`` first, then the answer as the model writes it.

        :raises ServiceUnavailable: only when degraded answers are disabled and no provider answered.
        """
        started = time.monotonic()
        deadline = started + self._settings.deadline_s
        shopper = self._personalizer.shopper(request) if self._personalizer else NOBODY
        understood: Understood | None = None
        if request.query is None:  # "for you": the shopper's history proposes the candidates
            assert self._personalizer is not None, "a request without a query needs the personalize step"
            filters = request.filters
            candidates, signals = self._personalizer.for_you(shopper, filters, self._settings.candidates)
        else:
            if self._personalizer is not None and shopper.personal:
                understood, filters, found = self._retrieve(request, self._pool)
                candidates, signals = self._personalizer.rerank(shopper, found, self._settings.candidates)
            else:
                understood, filters, found = self._retrieve(request, self._settings.candidates)
                candidates, signals = list(found), Signals()
        retrieval_ms = (time.monotonic() - started) * 1000
        history = self._personalizer.prompt_history(shopper) if self._personalizer and signals.fingerprint else NO_HISTORY
        language = answer_language(request.query or " ".join(h["title"] for h in history.entries), request.language)
        found_constraints = understood.found() if understood else None
        if stream is not None:
            stream.understood(found_constraints or {})

        if not candidates:
            payload = self._payload([], fact_summary(0, language), None, None, degraded=False)
            if trace is not None:
                trace.answered(None, None, cached=False, degraded=False)
            answer = Answer(payload, 0.0, cached=False)
            return self._respond(answer, request_id, started, retrieval_ms, understood=found_constraints)

        related = (
            {c.product.id: Personalizer.related(signals, history, c.product.id) for c in candidates}
            if history.numbers and signals.affinities
            else {}
        )
        shortlist = Shortlist(
            request, filters, understood, language, candidates, history=history.entries, related=related,
            signals=signals,
        )
        key = self._key(shortlist)
        answer = self._flow.run(
            key, functools.partial(self._answer, shortlist, deadline, stream), deadline, trace,
            personal=bool(signals.fingerprint),  # _impression logs its key for forgetting: written before that
        )
        annotate(answer.payload["items"], signals)
        response = self._respond(answer, request_id, started, retrieval_ms, understood=found_constraints)
        self._impression(shopper, response, key if signals.fingerprint else None)
        return response

    def _impression(self, shopper: Shopper, response: RecommendResponse, answer_key: str | None) -> None:
        """A known shopper's answer, logged so their clicks can be joined to what was shown and where."""
        if self._personalizer is None or shopper.user_key is None:
            return
        record = ImpressionRecord(response.request_id, tuple(i.id for i in response.items), int(time.time() * 1000))
        try:
            self._personalizer.store.log_impression(shopper.user_key, record, answer_key)
        except EventStoreUnavailable:
            pass  # the answer stands; the store logged its failure

    # -- steps -----------------------------------------------------------------------------
    def _retrieve(self, request: RecommendRequest, n: int) -> tuple[Understood | None, Filters, tuple[Candidate, ...]]:
        """Understanding, then the top ``n`` of retrieval; memoized per (query, filters, n) when ``retrieval_memo`` is on.

        What it returns is shared by every request with the same words and filters: callers copy, never mutate.
        """
        understood, filters, search_text = self._understand(request)
        return understood, filters, tuple(self._retriever.search(search_text, filters, n))

    def _understand(self, request: RecommendRequest) -> tuple[Understood | None, Filters, str]:
        """Constraints from the shopper's words, merged under the request's explicit filters."""
        query = request.query or ""
        if self._understanding is None:
            return None, request.filters, query
        understood = self._understanding.parse(query)
        filters = merge_filters(
            request.filters, understood, request.filters.model_fields_set, catalog_currency=self._catalog_currency
        )
        return understood, filters, understood.cleaned_query or query

    def _key(self, shortlist: Shortlist) -> str:
        request = shortlist.request
        user = request.user
        parts = {
            "prompt": [self._prompts.version, self._prompts.compact_version],
            "chain": self._chain.fingerprint(ENDPOINT),
            "model": self._settings.model_for(ENDPOINT),
            "params": [self._settings.temperature, self._settings.max_tokens],
            "query": normalize_text(request.query) if request.query is not None else None,
            "filters": shortlist.filters.model_dump(),
            "k": request.k,
            "language": shortlist.language,
            "profile": normalize_text(user.profile) if user and user.profile else None,
            "recent": list(user.recent_product_ids) if user else [],
            "candidates": [c.product.id for c in shortlist.candidates],
            "catalog": self._catalog.version,
        }
        if shortlist.signals.fingerprint:  # the history that shaped it; requests without one keep sharing answers
            parts["personal"] = [shortlist.signals.fingerprint, user.include_purchased if user else False]
        return answer_key(self._settings.cache_prefix, ENDPOINT, parts)

    def _answer(self, shortlist: Shortlist, deadline: float, stream: OutputStream | None = None) -> Outcome:
        started = time.monotonic()
        if not self._chain.providers:  # configured without any model: retrieval answers, by design
            return self._degraded(shortlist, started, failed=[], usage=Usage())
        k = min(shortlist.request.k, len(shortlist.candidates))
        language = shortlist.language
        usage = Usage()
        chat = self._prompts.chat(shortlist, deadline)
        if stream is not None:
            by_id = {c.product.id: c for c in shortlist.candidates}
            signals = shortlist.signals
            stream.bind(
                # an item streamed says what shaped it, as the answer's items do (annotate)
                lambda pid: annotate([candidate_item(by_id[pid]).model_dump()], signals)[0] if pid in by_id else None,
                k,
                clean=functools.partial(self._clean_streamed, by_id, stream),
                keep=ReasonCheck(shortlist.candidates, language, [shortlist.request.query or ""], self._sanitizer),
            )
            chat = dataclasses.replace(chat, stream=stream)
        try:
            asked = self._asker.structured(
                chat,
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
        if stream is not None:
            # a provider that did not stream: its answer goes out now
            stream.settle(asked.completion.text, compact=asked.completion.prompt_style == "compact")
        payload = self._checked(asked.value, asked.completion, asked.failed, shortlist)
        return Outcome(payload, (time.monotonic() - started) * 1000, cacheable=True, usage=usage)

    def _clean_streamed(self, by_id: dict[str, Candidate], stream: OutputStream, text: str, pid: str | None) -> str:
        """Streamed prose cleaned as the whole answer's is: a reason against its product's data, the summary
        against the data of the items streamed so far."""
        products = [by_id[pid].product] if pid in by_id else [by_id[i].product for i in stream.emitted if i in by_id]
        return self._sanitizer.text(text, [t for p in products for t in own_data(p)])

    def _checked(
        self, output: RecommendOutput, completion: Completion, failed: list[str], shortlist: Shortlist
    ) -> dict[str, Any]:
        """The model's picks held to the contract (real candidates, exactly k), its summary only when usable."""
        candidates, language = shortlist.candidates, shortlist.language
        # a small model's reasons must name something of their product or of the request (see prose.grounded)
        grounding = [shortlist.request.query or ""] if self._chain.wants_compact_from(completion.provider) else None
        fixed = reconcile(output, candidates, shortlist.request.k, shortlist.filters, language, self._sanitizer,
                          grounding)
        shown = {item.id for item in fixed.items}
        summary = self._sanitizer.text(
            output.summary.strip(), [t for c in candidates if c.product.id in shown for t in own_data(c.product)]
        )
        if not summary and completion.prompt_style == "compact":
            summary = fact_summary(len(fixed.items), language)  # a small model is not asked for one
        elif not usable(summary, language, {c.product.id for c in candidates}):
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
