"""The reference retriever later retrieval work must beat: plain bm25s over title + description.

Settings are bm25s defaults (Lucene BM25, k1 = 1.5, b = 0.75), bm25s's English
stopword list and PyStemmer's English (Porter 2) stemmer, one document per
product: ``title + " " + description``. Only products that match at least one
query term are returned (score > 0), best first, ties in catalog order.

Scores come from ``BM25.get_scores`` and the top n is picked among the
matching products only: ``BM25.retrieve`` runs ``np.argpartition`` over all
scores, which is slow on arrays that are mostly zeros (15 ms a query at 54k
products, 3 minutes for Home Depot, against about 1 ms here).
"""

from __future__ import annotations

from collections.abc import Collection

import bm25s
import numpy as np
import Stemmer

from service.catalog.load import Catalog
from service.evaluation.runner import RetrieverFactory
from service.retrieve.base import Candidate
from service.validate.recommend import Filters

BASELINE = "bm25-baseline"


class PlainBm25:
    """bm25s over a catalog's title + description; supports the evaluation's ``restrict_ids`` allow-list."""

    def __init__(self, catalog: Catalog) -> None:
        self._products = catalog.products
        self._index_of = {p.id: i for i, p in enumerate(self._products)}
        self._stemmer = Stemmer.Stemmer("english")
        corpus = [f"{p.title} {p.description}".strip() for p in self._products]
        tokens = bm25s.tokenize(corpus, stopwords="en", stemmer=self._stemmer, show_progress=False)
        self._bm25 = bm25s.BM25()
        self._bm25.index(tokens, show_progress=False)

    @classmethod
    def build(cls, catalog: Catalog) -> PlainBm25:
        return cls(catalog)

    def search(
        self, query: str, filters: Filters, n: int, *, restrict_ids: Collection[str] | None = None
    ) -> list[Candidate]:
        """Top ``n`` matching products, only among ``restrict_ids`` when given. ``filters`` are ignored.

        The eval catalogs carry no price, brand or category, so there is nothing to filter on.
        """
        scores = self._scores(query)
        if scores is None:
            return []
        if restrict_ids is None:
            matched = np.flatnonzero(scores > 0)
        else:
            allowed = np.fromiter(
                (i for i in (self._index_of.get(pid) for pid in restrict_ids) if i is not None), dtype=np.int64
            )
            matched = allowed[scores[allowed] > 0]
        # Best score first; equal scores in catalog order (np.lexsort sorts by the last key first).
        top = matched[np.lexsort((matched, -scores[matched]))][:n]
        return [Candidate(product=self._products[i], score=float(scores[i])) for i in top]

    def _scores(self, query: str) -> np.ndarray | None:
        tokenized = bm25s.tokenize(
            [query], stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )
        known = [t for t in tokenized[0] if t in self._bm25.vocab_dict]
        if not known:
            return None
        return self._bm25.get_scores(known)


def baseline_factories() -> dict[str, RetrieverFactory]:
    """Retrieval name -> factory(catalog) for the retrievers this module provides."""
    return {BASELINE: PlainBm25.build}
