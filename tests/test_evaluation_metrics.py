"""Metric math: hand-computed cases, and nDCG against scikit-learn's reference implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from service.evaluation.metrics import (
    dcg_at_k,
    mean_defined,
    ndcg_at_k,
    ordered,
    recall_at_k,
    reciprocal_rank,
    tie_groups,
)

LOG2_3 = math.log2(3)


def test_dcg_strict_ranking_hand_computed() -> None:
    gains = {"a": 3.0, "b": 1.0, "c": 7.0}
    # a at rank 1 (discount 1), unjudged x at 2, c at 3 (discount 1/2)
    assert dcg_at_k(ordered(["a", "x", "c", "b"]), gains, 3) == pytest.approx(3.0 + 7.0 / 2)
    # ideal: c, a, b
    ideal = 7.0 + 3.0 / LOG2_3 + 1.0 / 2
    assert ndcg_at_k(ordered(["a", "x", "c", "b"]), gains, 3) == pytest.approx((3.0 + 3.5) / ideal)
    assert ndcg_at_k(ordered(["c", "a", "b"]), gains, 3) == pytest.approx(1.0)
    assert ndcg_at_k(ordered(["x", "y"]), gains, 10) == 0.0


def test_ndcg_is_zero_without_positive_gain() -> None:
    assert ndcg_at_k(ordered(["a", "b"]), {"a": 0.0, "b": 0.0}, 10) == 0.0


def test_tie_group_spreads_its_mean_gain() -> None:
    # a (gain 3) and b (gain 0) tie for ranks 1-2: each rank gets 1.5 in expectation.
    ranking = tie_groups(["a", "b", "c"], [2.0, 2.0, 1.0])
    assert ranking == [["a", "b"], ["c"]]
    assert dcg_at_k(ranking, {"a": 3.0, "c": 1.0}, 2) == pytest.approx(1.5 + 1.5 / LOG2_3)
    # cut inside the group: only rank 1 counts
    assert dcg_at_k(ranking, {"a": 3.0}, 1) == pytest.approx(1.5)


def test_tie_groups_keep_first_of_repeated_ids() -> None:
    assert tie_groups(["a", "a", "b"], [3.0, 3.0, 3.0]) == [["a", "b"]]
    assert ordered(["a", "b", "a"]) == [["a"], ["b"]]


def test_recall_hand_computed() -> None:
    relevant = {"a", "c", "z"}
    assert recall_at_k(ordered(["a", "b", "c", "d"]), relevant, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ordered(["a", "b", "c", "d"]), relevant, 10) == pytest.approx(2 / 3)
    # a tie group of 4 holding both a and c, cut after 2 of its 4 places: half of 2 hits expected
    assert recall_at_k([["a", "b", "c", "d"]], relevant, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ordered(["a"]), set(), 10) is None


def test_reciprocal_rank_hand_computed() -> None:
    assert reciprocal_rank(ordered(["x", "y", "a"]), {"a"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(ordered(["x", "y"]), {"a"}) == 0.0
    assert reciprocal_rank(ordered(["x"]), set()) is None
    # one relevant among 2 tied after one miss: ranks 2 or 3, each with probability 1/2
    assert reciprocal_rank([["x"], ["y", "a"]], {"a"}) == pytest.approx((1 / 2 + 1 / 3) / 2)
    # 2 relevant among 3 tied: the first relevant is at rank 1 w.p. 2/3, rank 2 w.p. 1/3
    assert reciprocal_rank([["a", "b", "x"]], {"a", "b"}) == pytest.approx(2 / 3 + 1 / 3 / 2)


def test_expected_reciprocal_rank_matches_enumeration() -> None:
    from itertools import permutations

    group = ["a", "b", "c", "x", "y"]
    relevant = {"b", "y"}
    values = []
    for order in permutations(group):
        first = next(i for i, pid in enumerate(order) if pid in relevant)
        values.append(1 / (first + 3))  # two products ranked before the group
    assert reciprocal_rank([["p"], ["q"], group], relevant) == pytest.approx(sum(values) / len(values))


def test_mean_defined_skips_none() -> None:
    assert mean_defined([1.0, None, 0.0]) == (0.5, 2)
    assert mean_defined([None]) == (None, 0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 3)),  # (score, grade); few score values -> many ties
        min_size=2,  # sklearn's ndcg_score needs at least two documents
        max_size=25,
    ),
    st.integers(1, 12),
)
def test_ndcg_matches_sklearn_with_ties(rows: list[tuple[int, int]], k: int) -> None:
    ids = [f"p{i}" for i in range(len(rows))]
    scores = np.array([float(s) for s, _ in rows])
    gains = {pid: 2.0**g - 1 for pid, (_, g) in zip(ids, rows)}
    order = np.argsort(-scores, kind="stable")
    ranking = tie_groups([ids[i] for i in order], [scores[i] for i in order])
    y_true = np.array([[gains[pid] for pid in ids]])
    expected = ndcg_score(y_true, scores[None, :], k=k)  # sklearn averages over ties by default
    assert ndcg_at_k(ranking, gains, k) == pytest.approx(expected, abs=1e-9)
