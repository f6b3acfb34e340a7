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
from collections.abc import Collection
from dataclasses import dataclass, field

from service.catalog.load import Catalog
from service.evaluation.runner import EvalRetriever, RetrieverFactory
from service.retrieve.base import Candidate, Retriever
from service.settings import Settings
from service.validate.recommend import Filters, RecommendRequest


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
