"""Item-to-item affinity learned from shoppers' sequences: windowed co-occurrence, popularity-normalized.

For every shopper and every pair of steps at most ``window`` apart (``i`` before ``j``, ``d`` steps
between them), the pair adds to ``C[i, j]`` (what tends to come *after* ``i``) and, by ``backward``
less, to ``C[j, i]``:

    w = distance_decay ** (d - 1)  *  weight(i) * weight(j)  *  0.5 ** (age(j) / half_life)

(event-type weights from :class:`~service.personalize.corpus.EventWeights`; age relative to the
newest event in the log, so last month's pairs outweigh last year's). Popular products co-occur with
everything, so the counts are normalized against popularity,

    S[i, j] = C[i, j] / (n_i ** alpha * n_j ** beta)     (n = event-weighted occurrences)

and each product keeps its ``neighbors`` strongest successors (bounded memory and scoring cost).
Built in one vectorized pass per distance with scipy sparse matrices: Beauty's 198k steps take
about a second (docs/quality.md compares ``implicit``'s item-kNN).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from service.personalize.corpus import Corpus

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class CooccurParams:
    """How pairs are counted and normalized (defaults tuned on Beauty's validation targets: docs/quality.md)."""

    window: int = 6
    distance_decay: float = 0.7
    backward: float = 0.2
    half_life_days: float = 180.0  # recency of a pair; 0 = every pair counts alike
    alpha: float = 0.15  # source popularity exponent
    beta: float = 0.2  # target popularity exponent
    neighbors: int = 400

    def __post_init__(self) -> None:
        if self.window < 1 or self.neighbors < 1:
            raise ValueError("window and neighbors must be >= 1")
        if not 0 < self.distance_decay <= 1 or not 0 <= self.backward <= 1:
            raise ValueError("distance_decay must be in (0, 1] and backward in [0, 1]")
        if self.half_life_days < 0 or self.alpha < 0 or self.beta < 0:
            raise ValueError("half_life_days, alpha and beta must be >= 0")


def pair_counts(corpus: Corpus, params: CooccurParams) -> sp.csr_matrix:
    """``C``: the distance-, recency- and event-weighted pair counts (float32 CSR, zero diagonal)."""
    seq = corpus.sequence_of_step()
    item, weight = corpus.item, corpus.weight.astype(np.float64)
    recency = np.ones(corpus.steps)
    if params.half_life_days > 0 and corpus.latest_ms > 0:
        age_days = (corpus.latest_ms - corpus.time_ms) / _DAY_MS
        recency = 0.5 ** (np.clip(age_days, 0, None) / params.half_life_days)
    rows, cols, vals = [], [], []
    for d in range(1, params.window + 1):
        if d >= corpus.steps:
            break
        same = seq[:-d] == seq[d:]
        a, b = item[:-d][same], item[d:][same]
        distinct = a != b
        a, b = a[distinct], b[distinct]
        w = (params.distance_decay ** (d - 1)) * weight[:-d][same][distinct] * weight[d:][same][distinct]
        w *= recency[d:][same][distinct]
        rows += [a, b]
        cols += [b, a]
        vals += [w, w * params.backward]
    if not rows:
        return sp.csr_matrix((corpus.size, corpus.size), dtype=np.float32)
    counts = sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(corpus.size, corpus.size)
    ).tocsr()  # duplicates summed
    counts.eliminate_zeros()
    return counts.astype(np.float32)


def keep_top(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's ``k`` largest entries (among equal values at the cut, the lower columns); the rest dropped."""
    matrix = matrix.tocsr()
    matrix.sort_indices()
    lengths = np.diff(matrix.indptr)
    if lengths.max(initial=0) <= k:
        return matrix
    keep = np.ones(matrix.nnz, dtype=bool)
    data, indptr = matrix.data, matrix.indptr
    for row in np.flatnonzero(lengths > k).tolist():
        start, end = indptr[row], indptr[row + 1]
        values = data[start:end]
        # stable sort of the negated values: the k best, ties broken by column (indices are sorted)
        order = np.argsort(-values, kind="stable")
        keep[start + order[k:]] = False
    counts = np.bincount(np.repeat(np.arange(matrix.shape[0]), lengths)[keep], minlength=matrix.shape[0])
    new_indptr = np.concatenate([[0], np.cumsum(counts)]).astype(matrix.indptr.dtype)
    return sp.csr_matrix((data[keep], matrix.indices[keep], new_indptr), shape=matrix.shape)


class ItemToItem:
    """``S``: for a product, the products shoppers went on to (or came from), normalized against popularity."""

    def __init__(self, similarity: sp.csr_matrix, occurrences: np.ndarray) -> None:
        self.similarity = similarity.tocsr().astype(np.float32)
        self.occurrences = occurrences.astype(np.float32)  # event-weighted occurrences of each product

    @classmethod
    def build(cls, corpus: Corpus, params: CooccurParams | None = None) -> ItemToItem:
        params = params or CooccurParams()
        counts = pair_counts(corpus, params)
        occurrences = corpus.popularity()
        safe = np.maximum(occurrences, 1.0)
        normalized = sp.diags((safe**-params.alpha).astype(np.float32)) @ counts @ sp.diags(
            (safe**-params.beta).astype(np.float32)
        )
        return cls(keep_top(normalized, params.neighbors), occurrences)

    @property
    def size(self) -> int:
        return self.similarity.shape[0]

    def known(self, positions: np.ndarray) -> np.ndarray:
        """Which of ``positions`` have any learned neighbour (cold products have none)."""
        return np.diff(self.similarity.indptr)[positions] > 0

    def save(self, directory: Path) -> None:
        sp.save_npz(directory / "item2item.npz", self.similarity)
        np.save(directory / "occurrences.npy", self.occurrences)

    @classmethod
    def load(cls, directory: Path) -> ItemToItem:
        return cls(sp.load_npz(directory / "item2item.npz"), np.load(directory / "occurrences.npy"))
