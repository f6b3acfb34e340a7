"""Content similarity between products: each product's name as a BM25 query against the catalog's index.

A product nobody has bought yet has no co-occurrence, but its title still says what it is: the
similarity of ``j`` to ``i`` is the BM25 score of ``j``'s document (the retrieval index's
field-weighted text) for the query made of ``i``'s title and brand terms, divided by ``i``'s score
for its own query, so it lies in [0, 1] whatever the title's length. Each product keeps its
``neighbors`` most similar products. This reuses the retrieval index (same analyzer, same
weights, bilingual), so cold products are reachable from the first request; it is computed in
blocks of rows so a term shared by thousands of titles never builds a dense catalog-squared matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from service.personalize.cooccur import keep_top
from service.retrieve.lexical import LexicalIndex

_BLOCK = 1024
_MIN_DF_LIMIT = 50  # a small catalog keeps every term: 5 % of 40 products would drop "shirt"


@dataclass(frozen=True)
class ContentParams:
    neighbors: int = 200
    max_df: float = 0.05  # query terms in more than this share of products say little and cost much

    def __post_init__(self) -> None:
        if self.neighbors < 1 or not 0 < self.max_df <= 1:
            raise ValueError("neighbors must be >= 1 and max_df in (0, 1]")


def query_matrix(index: LexicalIndex, max_df: float) -> sp.csr_matrix:
    """Products x terms: 1 where the term is in the product's title or brand (and not too common)."""
    vocab, indptr, _, _ = index.term_weights()
    df = np.diff(indptr)
    limit = max(_MIN_DF_LIMIT, int(max_df * len(index.products)))
    rows, cols = [], []
    for position, product in enumerate(index.products):
        terms = {vocab[t] for t in index.analyzer.tokens(f"{product.title} {product.brand}") if t in vocab}
        terms = [t for t in terms if df[t] <= limit]
        rows += [position] * len(terms)
        cols += terms
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(index.products), len(vocab)))


class ContentSimilarity:
    """``K[i, j]``: how much product ``j``'s text answers product ``i``'s name (0..1, zero diagonal)."""

    def __init__(self, similarity: sp.csr_matrix) -> None:
        self.similarity = similarity.tocsr().astype(np.float32)

    @classmethod
    def build(cls, index: LexicalIndex, params: ContentParams | None = None) -> ContentSimilarity:
        params = params or ContentParams()
        vocab, indptr, indices, data = index.term_weights()
        n = len(index.products)
        weights = sp.csr_matrix((data.astype(np.float32), indices, indptr), shape=(len(vocab), n))  # terms x products
        queries = query_matrix(index, params.max_df)
        blocks = []
        for start in range(0, n, _BLOCK):
            block = (queries[start : start + _BLOCK] @ weights).tocoo()
            own = block.col == block.row + start
            self_score = np.zeros(block.shape[0], dtype=np.float32)
            self_score[block.row[own]] = block.data[own]
            other = ~own  # a product is not its own neighbour
            scaled = np.minimum(block.data[other] / np.maximum(self_score[block.row[other]], 1e-9), 1.0)
            block = sp.csr_matrix((scaled, (block.row[other], block.col[other])), shape=block.shape)
            blocks.append(keep_top(block, params.neighbors))
        return cls(sp.vstack(blocks).tocsr() if blocks else sp.csr_matrix((n, n), dtype=np.float32))

    def save(self, directory: Path) -> None:
        sp.save_npz(directory / "content.npz", self.similarity)

    @classmethod
    def load(cls, directory: Path) -> ContentSimilarity:
        return cls(sp.load_npz(directory / "content.npz"))
