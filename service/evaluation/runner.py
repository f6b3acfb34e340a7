"""Run retrievers over a judged dataset and report nDCG, recall and MRR per retrieval and view.

Views:

* ``full``: search the whole catalog for ``depth`` candidates (default twice
  the largest k, so tie groups around the cut-offs are seen whole); products
  not returned, and unjudged ones, count as gain 0.
* ``pool``: re-rank each query's judged products only. The runner calls
  ``search(query, filters, n=len(pool), restrict_ids=pool)``; judged products
  the retriever does not return (e.g. BM25 non-matches) are appended as one
  last tie group, so every retriever ranks the whole pool.

What a retriever must offer (the contract the real retrievers implement)::

    search(query: str, filters: Filters, n: int, *, restrict_ids: Collection[str] | None = None)
        -> list[Candidate]          # best first, at most n

``restrict_ids`` is an allow-list applied *before* the top-n cut (never
filter after it): only those products may be scored and returned; ``None``
means the whole catalog. Optionally ``search_many(queries, filters, n, *,
restrict_ids=None)`` (``restrict_ids`` then a list aligned with ``queries``)
returning one list per query; the runner prefers it, in chunks, so a dense
encoder can batch queries. The runner passes ``Filters(in_stock=False)``: no
constraint.

Ties: candidates with exactly equal ``score`` form a tie group and metrics are
averaged over their orders (see :mod:`service.evaluation.metrics`); pass
``ties="ordered"`` for rankers whose scores do not carry their order.

Split: each qid is hashed (SHA-256 with a fixed salt) into ``tune`` (the first
``tune_share`` of the hash range) or ``test``, so tuning on one half and
reporting on the other is reproducible across runs, machines and loaders.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from service.catalog.load import Catalog
from service.evaluation.datasets import EvalDataset, EvalQuery
from service.evaluation.metrics import (
    Ranking,
    mean_defined,
    ndcg_at_k,
    ordered,
    recall_at_k,
    reciprocal_rank,
    tie_groups,
)
from service.retrieve.base import Candidate
from service.validate.recommend import Filters

View = Literal["full", "pool"]
Split = Literal["all", "tune", "test"]
Ties = Literal["average", "ordered"]
VIEWS: tuple[View, ...] = ("full", "pool")
SPLITS: tuple[Split, ...] = ("all", "tune", "test")
SPLIT_SALT = "shopguide-eval-split-v1"
_BATCH = 512


class EvalRetriever(Protocol):
    def search(
        self, query: str, filters: Filters, n: int, *, restrict_ids: Collection[str] | None = None
    ) -> list[Candidate]:
        """Top ``n`` products, only among ``restrict_ids`` when given, best first."""
        ...


@runtime_checkable
class BatchEvalRetriever(Protocol):
    def search_many(
        self,
        queries: Sequence[str],
        filters: Filters,
        n: int,
        *,
        restrict_ids: Sequence[Collection[str]] | None = None,
    ) -> list[list[Candidate]]:
        """One :meth:`EvalRetriever.search` result per query."""
        ...


RetrieverFactory = Callable[[Catalog], EvalRetriever]


@dataclass(frozen=True)
class ResultRow:
    """Mean metrics of one retrieval in one view."""

    retrieval: str
    view: View
    metrics: dict[str, float | None]
    queries: int
    queries_relevant: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "retrieval": self.retrieval,
            "view": self.view,
            **{name: None if value is None else round(value, 4) for name, value in self.metrics.items()},
            "queries": self.queries,
            "queries_relevant": self.queries_relevant,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class EvalReport:
    """Everything one evaluation measured."""

    dataset: str
    split: Split
    products: int
    queries: int
    ties: Ties
    rows: list[ResultRow] = field(default_factory=list)
    build_seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "split": self.split,
            "products": self.products,
            "queries": self.queries,
            "ties": self.ties,
            "results": [row.to_dict() for row in self.rows],
            "build_seconds": {name: round(s, 2) for name, s in self.build_seconds.items()},
        }

    def to_table(self) -> str:
        names = list(self.rows[0].metrics) if self.rows else []
        header = ["retrieval", "view", *names, "queries", "seconds"]
        body = [
            [
                row.retrieval,
                row.view,
                *("-" if row.metrics[n] is None else f"{row.metrics[n]:.4f}" for n in names),
                f"{row.queries}/{row.queries_relevant}",
                f"{row.seconds:.1f}",
            ]
            for row in self.rows
        ]
        widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
        lines = [
            f"{self.dataset} ({self.split} split): {self.queries} queries, {self.products} products, ties={self.ties}",
            "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
            *("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body),
            "queries: all (nDCG) / with a relevant product (recall, MRR)",
        ]
        return "\n".join(lines)


def query_part(qid: str, tune_share: float = 0.5, salt: str = SPLIT_SALT) -> Literal["tune", "test"]:
    """Which half a query belongs to, from a hash of its qid."""
    digest = hashlib.sha256(f"{salt}:{qid}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return "tune" if position < tune_share else "test"


def select_queries(
    queries: Sequence[EvalQuery],
    split: Split = "all",
    *,
    tune_share: float = 0.5,
    limit: int | None = None,
) -> list[EvalQuery]:
    """The queries of ``split``; ``limit`` keeps a deterministic hash-ordered sample of that many."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    chosen = [q for q in queries if split == "all" or query_part(q.qid, tune_share) == split]
    if limit is not None and limit < len(chosen):
        chosen = sorted(chosen, key=lambda q: hashlib.sha256(f"{SPLIT_SALT}:sample:{q.qid}".encode()).digest())[:limit]
    return chosen


def evaluate(
    dataset: EvalDataset,
    retriever_factories: Mapping[str, RetrieverFactory],
    views: Sequence[View] = VIEWS,
    *,
    ndcg_ks: Sequence[int] = (10,),
    recall_ks: Sequence[int] = (10, 50),
    depth: int | None = None,
    split: Split = "all",
    tune_share: float = 0.5,
    limit: int | None = None,
    ties: Ties = "average",
) -> EvalReport:
    """Build each retriever over ``dataset.catalog`` once and score it in each view.

    :raises ValueError: on an unknown view/split, or a retriever returning a product outside ``restrict_ids``.
    """
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        raise ValueError(f"unknown view(s) {unknown}; known: {VIEWS}")
    queries = select_queries(dataset.queries, split, tune_share=tune_share, limit=limit)
    depth = depth or 2 * max((*ndcg_ks, *recall_ks))
    report = EvalReport(
        dataset=dataset.name, split=split, products=len(dataset.products), queries=len(queries), ties=ties
    )
    catalog = dataset.catalog
    for name, factory in retriever_factories.items():
        started = time.perf_counter()
        retriever = factory(catalog)
        report.build_seconds[name] = time.perf_counter() - started
        for view in views:
            started = time.perf_counter()
            rankings = _rank(retriever, queries, view, depth, ties)
            row = _score(dataset, queries, rankings, ndcg_ks, recall_ks)
            report.rows.append(
                ResultRow(
                    retrieval=name,
                    view=view,
                    metrics=row[0],
                    queries=row[1],
                    queries_relevant=row[2],
                    seconds=time.perf_counter() - started,
                )
            )
    return report


def _rank(retriever: EvalRetriever, queries: Sequence[EvalQuery], view: View, depth: int, ties: Ties) -> list[Ranking]:
    filters = Filters(in_stock=False)
    pools = [list(q.judgments) for q in queries] if view == "pool" else None
    results: list[list[Candidate]] = []
    if isinstance(retriever, BatchEvalRetriever):
        for start in range(0, len(queries), _BATCH):
            chunk = queries[start : start + _BATCH]
            chunk_pools = pools[start : start + _BATCH] if pools is not None else None
            n = max(len(p) for p in chunk_pools) if chunk_pools else depth
            results.extend(retriever.search_many([q.text for q in chunk], filters, n, restrict_ids=chunk_pools))
    else:
        for i, query in enumerate(queries):
            if pools is None:
                results.append(retriever.search(query.text, filters, depth))
            else:
                results.append(retriever.search(query.text, filters, len(pools[i]), restrict_ids=pools[i]))
    if len(results) != len(queries):
        raise ValueError(f"retriever returned {len(results)} result lists for {len(queries)} queries")

    rankings: list[Ranking] = []
    for i, candidates in enumerate(results):
        ids = [c.product.id for c in candidates]
        ranking = tie_groups(ids, [c.score for c in candidates]) if ties == "average" else ordered(ids)
        if pools is not None:
            pool = set(pools[i])
            outside = [pid for pid in ids if pid not in pool]
            if outside:
                raise ValueError(f"restrict_ids ignored: {outside[:3]} returned for query {queries[i].qid}")
            ranked = set(ids)
            rest = [pid for pid in pools[i] if pid not in ranked]
            if rest:
                ranking = [*ranking, rest]
        rankings.append(ranking)
    return rankings


def _score(
    dataset: EvalDataset,
    queries: Sequence[EvalQuery],
    rankings: Sequence[Ranking],
    ndcg_ks: Sequence[int],
    recall_ks: Sequence[int],
) -> tuple[dict[str, float | None], int, int]:
    gains = [dataset.gains(q) for q in queries]
    relevant = [dataset.relevant(q) for q in queries]
    metrics: dict[str, float | None] = {}
    for k in ndcg_ks:
        metrics[f"ndcg@{k}"], _ = mean_defined(ndcg_at_k(r, g, k) for r, g in zip(rankings, gains))
    for k in recall_ks:
        metrics[f"recall@{k}"], _ = mean_defined(recall_at_k(r, rel, k) for r, rel in zip(rankings, relevant))
    # recall and MRR are defined for the same queries: those with a relevant product
    metrics["mrr"], with_relevant = mean_defined(reciprocal_rank(r, rel) for r, rel in zip(rankings, relevant))
    return metrics, len(queries), with_relevant
