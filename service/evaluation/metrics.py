"""Tie-aware ranking metrics: nDCG@k, recall@k and reciprocal rank over graded judgments.

A ranking is a list of tie groups, best first: products a retriever scored
exactly alike form one group. Every metric is the expected value over all
orders of the products inside each tie group (McSherry & Najork, ECIR 2008),
which is what ``sklearn.metrics.ndcg_score`` computes for nDCG. Plain BM25
over short titles ties often (equal length, same matched terms), and an
arbitrary tie order moved Home Depot nDCG@10 by about 0.002 either way
(0.004 between opposite orders, a fifth of the +5 % we want to detect). Use :func:`ordered` to
trust a ranker's order instead (every product its own group).

Unjudged products have gain 0 and are not relevant. A query whose judged
products all have gain 0 scores nDCG 0, as in ``sklearn.metrics.ndcg_score``
(and trec_eval), so nDCG averages over every query. Recall and reciprocal
rank return ``None`` for a query with nothing relevant: such queries are left
out of those means and counted (18 % of Home Depot's queries have no product
at "Perfect match"; scoring them 0 would only scale the mean by a constant).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence, Set

Ranking = Sequence[Sequence[str]]


def tie_groups(ids: Sequence[str], scores: Sequence[float]) -> list[list[str]]:
    """Group adjacent products with exactly equal scores (the input is best first); repeated ids keep the first."""
    groups: list[list[str]] = []
    seen: set[str] = set()
    last: float | None = None
    for pid, score in zip(ids, scores, strict=True):
        if pid in seen:
            continue
        seen.add(pid)
        if groups and score == last:
            groups[-1].append(pid)
        else:
            groups.append([pid])
        last = score
    return groups


def ordered(ids: Iterable[str]) -> list[list[str]]:
    """A strict ranking: each product its own group; repeated ids keep the first."""
    seen: set[str] = set()
    groups = []
    for pid in ids:
        if pid not in seen:
            seen.add(pid)
            groups.append([pid])
    return groups


def _discount(position: int) -> float:
    """DCG discount of the 0-based ``position``."""
    return 1.0 / math.log2(position + 2)


def dcg_at_k(ranking: Ranking, gains: Mapping[str, float], k: int) -> float:
    """Expected DCG@k: a tie group spreads its mean gain over the positions it occupies."""
    total = 0.0
    start = 0
    for group in ranking:
        if start >= k:
            break
        size = len(group)
        mean_gain = sum(gains.get(pid, 0.0) for pid in group) / size
        if mean_gain:
            total += mean_gain * sum(_discount(p) for p in range(start, min(start + size, k)))
        start += size
    return total


def ideal_dcg_at_k(gains: Mapping[str, float], k: int) -> float:
    best = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    return sum(g * _discount(p) for p, g in enumerate(best))


def ndcg_at_k(ranking: Ranking, gains: Mapping[str, float], k: int) -> float:
    """DCG@k over the ideal DCG@k of the judged gains; 0 when no judged product has a positive gain."""
    ideal = ideal_dcg_at_k(gains, k)
    if ideal <= 0:
        return 0.0
    return dcg_at_k(ranking, gains, k) / ideal


def recall_at_k(ranking: Ranking, relevant: Set[str], k: int) -> float | None:
    """Expected share of the relevant products ranked in the top ``k``; ``None`` when nothing is relevant."""
    if not relevant:
        return None
    hits = 0.0
    start = 0
    for group in ranking:
        if start >= k:
            break
        inside = min(start + len(group), k) - start
        hits += sum(1 for pid in group if pid in relevant) * inside / len(group)
        start += len(group)
    return hits / len(relevant)


def reciprocal_rank(ranking: Ranking, relevant: Set[str]) -> float | None:
    """Expected 1/rank of the first relevant product (0 if none is ranked); ``None`` when nothing is relevant."""
    if not relevant:
        return None
    start = 0
    for group in ranking:
        size = len(group)
        hits = sum(1 for pid in group if pid in relevant)
        if hits:
            # P(first relevant sits at offset j) = C(size-j-1, hits-1) / C(size, hits) for a uniform tie order.
            orders = math.comb(size, hits)
            return sum(
                math.comb(size - j - 1, hits - 1) / orders / (start + j + 1) for j in range(size - hits + 1)
            )
        start += size
    return 0.0


def mean_defined(values: Iterable[float | None]) -> tuple[float | None, int]:
    """Mean of the defined values and how many there were (``None`` mean when there were none)."""
    defined = [v for v in values if v is not None]
    if not defined:
        return None, 0
    return math.fsum(defined) / len(defined), len(defined)
