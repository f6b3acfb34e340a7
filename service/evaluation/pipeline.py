"""Evaluate the whole recommend pipeline: retrieval, then the provider chain's picks.

``shopguide eval --retrieval pipeline`` ranks each query's products as the storefront would see
them: the answer's items in order (the model's picks, then the retrieval fill), followed by the
rest of retrieval's candidates down to the evaluation depth, so its nDCG@10 compares directly with
the retrieval rows. It runs :class:`~service.pipeline.recommend.RecommendPipeline` in-process over
the dataset's catalog, with the retrieval ``SHOPGUIDE_RETRIEVAL`` selects and the provider chain
the settings configure (``SHOPGUIDE_PROVIDERS``, ``OPENAI_BASE_URL``...; with none, the local
model, about 20 s a query on 2 CPU cores); an in-memory cache
(never Redis) so every query is answered by the provider. One request at a time: on a hosted
model a 261-query run costs 261 calls; ``--limit`` samples fewer. Answers that came back degraded
are counted and printed with the table, since they measure retrieval, not the model.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.catalog.load import Catalog
from service.evaluation.runner import EvalRetriever, RetrieverFactory
from service.retrieve.base import Candidate, Retriever
from service.settings import Settings
from service.validate.recommend import Filters, RecommendRequest, User

PIPELINE = "pipeline"
_K = 10  # the pipeline's answer fills the top 10 that nDCG@10 reads


class _Restricted:
    """The service's retriever, with the evaluation's per-query allow-list applied (the pool view)."""

    def __init__(self, inner: Retriever) -> None:
        self.inner = inner
        self.allowed: Collection[str] | None = None

    def search(self, query: str, filters: Filters, n: int) -> list[Candidate]:
        if self.allowed is None:
            return self.inner.search(query, filters, n)
        return self.inner.search(query, filters, n, restrict_ids=self.allowed)  # type: ignore[call-arg]


@dataclass
class PipelineStats:
    """What the provider chain did over one evaluation."""

    answered: int = 0
    degraded: int = 0
    providers: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        by = ", ".join(f"{name} {count}" for name, count in sorted(self.providers.items())) or "none"
        return f"pipeline: {self.answered} answers, {self.degraded} degraded (retrieval only); by provider: {by}"


class PipelineRanker:
    """An :class:`~service.evaluation.runner.EvalRetriever` backed by the recommend pipeline."""

    def __init__(
        self, catalog: Catalog, settings: Settings, retriever: Retriever, stats: PipelineStats | None = None
    ) -> None:
        from service.app import build_dependencies  # the app's wiring; imported late (flask, providers)

        self._retriever = _Restricted(retriever)
        # A fresh in-memory cache: an answer cached by the service must not stand in for the model's.
        # No retrieval memo: its key does not hold the per-query allow-list set on _Restricted.
        settings = settings.model_copy(update={"redis_url": None, "retrieval_memo": 0})
        self._deps = build_dependencies(settings, catalog=catalog, retriever=self._retriever)
        self.stats = stats if stats is not None else PipelineStats()

    def search(
        self, query: str, filters: Filters, n: int, *, restrict_ids: Collection[str] | None = None
    ) -> list[Candidate]:
        self._retriever.allowed = restrict_ids
        try:
            # the runner's Filters(in_stock=False): the eval catalogs carry no stock, price or category
            request = RecommendRequest(query=query, k=min(_K, max(n, 1)), filters=filters)
            answer = self._deps.recommend.run(request, f"eval-{uuid.uuid4().hex[:12]}")
            rest = self._retriever.search(query, filters, n)
        finally:
            self._retriever.allowed = None
        self.stats.answered += 1
        if answer.degraded:
            self.stats.degraded += 1
        else:
            name = answer.provider or "?"
            self.stats.providers[name] = self.stats.providers.get(name, 0) + 1
        by_id = {c.product.id: c for c in rest}
        order = list(dict.fromkeys([*(item.id for item in answer.items), *by_id]))[:n]
        ranked: list[Candidate] = []
        for rank, pid in enumerate(order):
            product = by_id[pid].product if pid in by_id else self._deps.catalog.get(pid)
            if product is None:  # never: the pipeline returns catalog products only
                continue
            terms = by_id[pid].matched_terms if pid in by_id else ()
            # distinct descending scores: the answer's order is the ranking (no tie averaging)
            ranked.append(Candidate(product=product, score=float(len(order) - rank), matched_terms=terms))
        return ranked


def pipeline_factory(settings: Settings, retriever_factory: RetrieverFactory, stats: PipelineStats) -> RetrieverFactory:
    """A factory for :func:`~service.evaluation.runner.evaluate`; its rankers add to ``stats``."""

    def factory(catalog: Catalog) -> EvalRetriever:
        return PipelineRanker(catalog, settings, retriever_factory(catalog), stats)  # type: ignore[arg-type]

    return factory


# -- next-item evaluation: the provider chain re-ranking the blend's top candidates ----------------------

NEXT_ITEM_QUERY = "What should I buy next?"
_RECENT = 10  # history products the request names (the newest)
_BIG = 1e6


class _Given:
    """A retriever that returns the candidates it was handed (the blend's top ones), whatever the words."""

    def __init__(self) -> None:
        self.candidates: list[Candidate] = []

    def search(self, query: str, filters: Filters, n: int, **_: object) -> list[Candidate]:
        return self.candidates[:n]


class NextItemPipeline:
    """Ranks a shopper's next item as the storefront would: the blend proposes, the provider chain picks.

    For each shopper the blend's top ``candidates`` (history removed) go to
    :class:`~service.pipeline.recommend.RecommendPipeline` as retrieval's candidates, with the newest
    history products as ``user.recent_product_ids``; the answer's items rank first (in its order),
    then the rest of those candidates, then every other product by the blend's score. One provider
    call per shopper, none cached (an in-memory cache, a fresh request id each time).
    """

    def __init__(
        self, catalog: Catalog, settings: Settings, stats: PipelineStats | None = None, candidates: int | None = None
    ) -> None:
        from service.app import build_dependencies

        self._given = _Given()
        self._catalog = catalog
        # no cache at all: two shoppers with the same history are two calls, as two ranked queries are
        settings = settings.model_copy(update={"redis_url": None, "retrieval_memo": 0, "cache_ttl_s": 0})
        self._deps = build_dependencies(settings, catalog=catalog, retriever=self._given)  # type: ignore[arg-type]
        self._n = candidates or settings.candidates
        self.stats = stats if stats is not None else PipelineStats()

    def __call__(self, blend: Any, histories: Sequence[Any]) -> np.ndarray:
        scores = np.asarray(blend.score_histories(histories), dtype=np.float64)
        products = self._catalog.products
        position_of = {p.id: i for i, p in enumerate(products)}
        for row, history in enumerate(histories):
            allowed = np.ones(len(products), dtype=bool)
            allowed[history.positions] = False
            shown = np.flatnonzero(allowed)
            top = shown[np.lexsort((shown, -scores[row, shown]))[: self._n]]
            self._given.candidates = [Candidate(product=products[p], score=float(scores[row, p])) for p in top]
            recent = [products[p].id for p in history.positions[-_RECENT:][::-1]]
            request = RecommendRequest(
                query=NEXT_ITEM_QUERY,
                k=min(_K, len(top)) or 1,
                filters=Filters(in_stock=False),
                user=User(recent_product_ids=recent),
            )
            answer = self._deps.recommend.run(request, f"eval-{uuid.uuid4().hex[:12]}")
            self.stats.answered += 1
            if answer.degraded:
                self.stats.degraded += 1
            else:
                name = answer.provider or "?"
                self.stats.providers[name] = self.stats.providers.get(name, 0) + 1
            picks = [position_of[item.id] for item in answer.items if item.id in position_of]
            scores[row, top] += _BIG / 2  # the candidates the model saw, in the blend's order...
            for rank, position in enumerate(dict.fromkeys(picks)):
                scores[row, position] = _BIG + len(picks) - rank  # ...after its picks, in its order
        return scores
