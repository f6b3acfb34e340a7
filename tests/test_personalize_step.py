"""The personalize step's re-rank: retrieval's relevance and the shopper's affinity, summed on one scale."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.events.keys import UserKeys
from service.events.store import MemoryEventStore
from service.personalize.contract import Affinity, EventType, Interaction
from service.personalize.step import Personalizer, Shopper
from service.retrieve.base import Candidate
from service.settings import load_settings

PRODUCTS = [Product(id=pid, title=f"Product {pid}", category="Shop") for pid in ("a", "b", "c", "d")]


class Fixed:
    """A recommender whose affinities are given: the step's arithmetic is what is under test."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores

    def rerank(self, history: Sequence[Interaction], candidate_ids: Sequence[str]) -> dict[str, Affinity]:
        return {pid: Affinity(pid, self.scores[pid], ("h",)) for pid in candidate_ids if pid in self.scores}

    def for_you(self, history, k, *, category=None, exclude=frozenset()):  # type: ignore[no-untyped-def]
        return []

    def observe(self, user_key: str, interaction: Interaction) -> None:
        return None


def rerank(scores: dict[str, float], excluded: frozenset[str] = frozenset(), weight: float = 1.0) -> list[str]:
    catalog = Catalog.of(PRODUCTS)
    personalizer = Personalizer(
        settings=load_settings(personalize_weight=weight),
        catalog=catalog,
        retriever=None,  # type: ignore[arg-type]  # rerank never retrieves
        store=MemoryEventStore(),
        recommender=Fixed(scores),
        keys=UserKeys(),
    )
    shopper = Shopper("k", (Interaction("h", EventType.purchase, 1),), excluded)
    candidates = [Candidate(product=catalog.by_id[pid], score=1.0) for pid in ("a", "b", "c", "d")]  # a tie
    kept, signals = personalizer.rerank(shopper, candidates, 3)
    assert set(signals.affinities) == set(scores) - excluded
    return [c.product.id for c in kept]


def test_affinity_moves_tied_candidates_and_ties_keep_retrieval_order() -> None:
    assert rerank({"c": 0.9, "b": 0.3}) == ["c", "b", "a"]
    assert rerank({}) == ["a", "b", "c"]


def test_negative_affinity_weighs_down_also_when_no_affinity_is_positive() -> None:
    # Like what the shopper dismissed and nothing else: all affinities below zero. Scaled by a negative
    # maximum, every penalty became a boost and the most dismissed-like product came first.
    assert rerank({"a": -0.9, "b": -0.1}) == ["c", "d", "b"]
    assert rerank({"a": -0.9, "b": 0.5}) == ["b", "c", "d"]


def test_excluded_products_are_left_out_and_weight_zero_keeps_retrieval_order() -> None:
    assert rerank({"a": 0.9}, excluded=frozenset({"a"})) == ["b", "c", "d"]
    assert rerank({"d": 0.9, "c": 0.5}, weight=0.0) == ["a", "b", "c"]


@pytest.mark.parametrize("weight", [0.5, 2.0])
def test_relevance_still_counts(weight: float) -> None:
    catalog = Catalog.of(PRODUCTS)
    personalizer = Personalizer(
        settings=load_settings(personalize_weight=weight), catalog=catalog, retriever=None,  # type: ignore[arg-type]
        store=MemoryEventStore(), recommender=Fixed({"b": 1.0}), keys=UserKeys(),
    )
    shopper = Shopper("k", (Interaction("h", EventType.purchase, 1),), frozenset())
    candidates = [Candidate(product=catalog.by_id["a"], score=4.0), Candidate(product=catalog.by_id["b"], score=1.0)]
    kept, _ = personalizer.rerank(shopper, candidates, 2)
    # a: 4/4 = 1.0; b: 1/4 + weight * 1.0
    assert [c.product.id for c in kept] == (["a", "b"] if weight < 0.75 else ["b", "a"])
