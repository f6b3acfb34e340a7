"""Hybrid retrieval: field-weighted BM25 fused with dense (embedding) similarity.

Fusion (``HybridParams.fusion``):

* ``weighted`` (default): ``alpha * bm25 / max(bm25) + (1 - alpha) * cosine``, where the BM25
  scores are divided by the query's best BM25 score among the products the filters allow, and a
  cosine below ``dense_floor`` counts as 0. A product with neither a matching term nor a cosine
  above the floor is never returned, so an unrelated query still gets an empty answer.
* ``rrf``: reciprocal-rank fusion, ``1 / (rrf_k + rank_bm25) + 1 / (rrf_k + rank_dense)`` over each
  side's top ``rrf_depth``; kept for comparison (``shopguide eval`` measures both, see docs/quality.md).

The embedder is English; a query holding Chinese (Han) characters is left to BM25 alone, which
segments it with jieba. Filters and ruled-out phrases mask both sides before the top-n cut.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from service.retrieve.base import Candidate
from service.retrieve.dense import DenseIndex
from service.retrieve.lexical import LexicalIndex, top_positions
from service.text.script import HAN
from service.validate.recommend import Filters


@dataclass(frozen=True)
class HybridParams:
    """How BM25 and dense scores combine (tuned on the tune split: docs/quality.md)."""

    alpha: float = 0.6
    dense_floor: float = 0.3
    fusion: Literal["weighted", "rrf"] = "weighted"
    rrf_k: int = 60
    rrf_depth: int = 200

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be within [0, 1], got {self.alpha}")
        if not -1.0 <= self.dense_floor <= 1.0:
            raise ValueError(f"dense_floor must be within [-1, 1], got {self.dense_floor}")
        if self.fusion not in ("weighted", "rrf"):
            raise ValueError(f"fusion must be weighted or rrf, got {self.fusion!r}")


def uses_dense(query: str) -> bool:
    """Whether the (English) embedder should score this query: not when it holds Chinese."""
    return HAN.search(query) is None


class HybridRetriever:
    """BM25 plus dense similarity over the same catalog positions. Implements the Retriever protocol."""

    def __init__(self, lexical: LexicalIndex, dense: DenseIndex, params: HybridParams | None = None) -> None:
        if dense.catalog.version != lexical.catalog.version:
            raise ValueError("lexical and dense indexes were built from different catalogs")
        self.lexical = lexical
        self.dense = dense
        self.params = params or HybridParams()
        self.products = lexical.products

    def search(
        self, query: str, filters: Filters, n: int, *, restrict_ids: Collection[str] | None = None
    ) -> list[Candidate]:
        """Top ``n`` products passing ``filters`` (and among ``restrict_ids`` when given), best first."""
        similarity = self.dense.similarity([query])[0] if uses_dense(query) and n > 0 else None
        return self._fuse(query, filters, n, restrict_ids, similarity)

    def search_many(
        self,
        queries: Sequence[str],
        filters: Filters,
        n: int,
        *,
        restrict_ids: Sequence[Collection[str]] | None = None,
    ) -> list[list[Candidate]]:
        """:meth:`search` for each query, with the English queries embedded as one batch."""
        english = [q for q in dict.fromkeys(queries) if uses_dense(q)]
        rows = dict(zip(english, self.dense.similarity(english))) if english and n > 0 else {}
        return [
            self._fuse(q, filters, n, restrict_ids[i] if restrict_ids is not None else None, rows.get(q))
            for i, q in enumerate(queries)
        ]

    def _fuse(
        self,
        query: str,
        filters: Filters,
        n: int,
        restrict_ids: Collection[str] | None,
        similarity: np.ndarray | None,
    ) -> list[Candidate]:
        if n <= 0:
            return []
        terms = self.lexical.known_terms(query)
        mask = self.lexical.mask(filters, restrict_ids)
        bm25 = self.lexical.score(terms, mask) if terms else np.zeros(len(self.products), dtype=np.float32)
        if similarity is None:
            fused = bm25
        else:
            dense = np.where(similarity >= self.params.dense_floor, similarity, 0.0).astype(np.float32)
            if mask is not None:
                dense[~mask] = 0.0
            fused = self._weighted(bm25, dense) if self.params.fusion == "weighted" else self._rrf(bm25, dense)
        top = top_positions(fused, n)
        matched = self.lexical.matched_terms(top, terms) if terms else [()] * len(top)
        return [
            Candidate(product=self.products[pos], score=float(fused[pos]), matched_terms=words)
            for pos, words in zip(top.tolist(), matched)
        ]

    def _weighted(self, bm25: np.ndarray, dense: np.ndarray) -> np.ndarray:
        alpha = self.params.alpha
        best = float(bm25.max()) if len(bm25) else 0.0
        lexical = bm25 / best if best > 0 else bm25
        return alpha * lexical + (1.0 - alpha) * dense

    def _rrf(self, bm25: np.ndarray, dense: np.ndarray) -> np.ndarray:
        k, depth = self.params.rrf_k, self.params.rrf_depth
        fused = np.zeros(len(bm25), dtype=np.float64)
        for scores in (bm25, dense):
            top = top_positions(scores, depth)
            fused[top] += 1.0 / (k + 1.0 + np.arange(len(top)))
        return fused
