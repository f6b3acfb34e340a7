"""Item-to-item co-occurrence: the pair weights by hand (window, distance, direction, event type, recency),
popularity normalization, the kept neighbours; the encoded corpus and its hash."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from service.personalize.contract import EventType, Interaction, ShopperSequence
from service.personalize.cooccur import CooccurParams, ItemToItem, keep_top, pair_counts
from service.personalize.corpus import EventWeights, encode, split_history
from tests.support.shoppers import DAY_MS, T0, seq

IDS = {"a": 0, "b": 1, "c": 2, "d": 3}
FLAT = dict(window=2, distance_decay=0.5, backward=0.5, half_life_days=0.0, alpha=0.0, beta=0.0)


def counts(sequences: list[ShopperSequence], **params: float) -> np.ndarray:
    corpus = encode(sequences, IDS, len(IDS), EventWeights())
    return pair_counts(corpus, CooccurParams(**{**FLAT, **params})).toarray()


def test_pairs_inside_the_window_weighted_by_distance_and_direction() -> None:
    c = counts([seq("u", "a", "b", "c", "d")])
    # forward a->b, b->c, c->d at distance 1 (1.0); a->c, b->d at distance 2 (0.5); a->d is outside the window
    assert c[0, 1] == c[1, 2] == c[2, 3] == 1.0
    assert c[0, 2] == c[1, 3] == 0.5
    assert c[0, 3] == 0.0 and c[3, 0] == 0.0
    # backward: half as much
    assert c[1, 0] == 0.5 and c[2, 0] == 0.25
    assert np.all(np.diag(c) == 0)


def test_shoppers_never_pair_across_their_boundary() -> None:
    c = counts([seq("u", "a", "b"), seq("v", "c", "d")])
    assert c[1, 2] == 0.0 and c[2, 1] == 0.0 and c[0, 1] == 1.0 and c[2, 3] == 1.0


def test_event_types_weigh_purchase_over_cart_over_click_over_view() -> None:
    weights = EventWeights()
    assert weights.purchase > weights.add_to_cart > weights.click > weights.view > 0
    kinds = [EventType.purchase, EventType.add_to_cart, EventType.click, EventType.view]
    pair = [counts([seq("u", "a", ("b", kind))])[0, 1] for kind in kinds]
    assert pair == sorted(pair, reverse=True) and pair[0] == 1.0 and pair[-1] == pytest.approx(weights.view)
    with pytest.raises(ValueError):
        EventWeights(click=0.9, add_to_cart=0.5)


def test_a_dismiss_and_a_bad_rating_teach_nothing_positive() -> None:
    sequence = ShopperSequence(
        "u",
        (
            Interaction("a", EventType.purchase, T0),
            Interaction("b", EventType.dismiss, T0 + 1),
            Interaction("c", EventType.rating, T0 + 2, value=1.0),
            Interaction("d", EventType.rating, T0 + 3, value=5.0),
        ),
    )
    corpus = encode([sequence], IDS, len(IDS), EventWeights())
    assert corpus.item.tolist() == [0, 3]  # only the purchase and the 5-star rating are steps


def test_a_funnel_on_one_product_is_one_step_with_its_strongest_weight() -> None:
    sequence = seq("u", ("a", EventType.view), ("a", EventType.add_to_cart), ("a", EventType.view), "b")
    corpus = encode([sequence], IDS, len(IDS), EventWeights())
    assert corpus.item.tolist() == [0, 1]
    assert corpus.weight.tolist() == pytest.approx([EventWeights().add_to_cart, 1.0])


def test_older_pairs_count_less_with_a_half_life() -> None:
    old = seq("old", "a", "b", start_ms=T0)
    new = seq("new", "c", "d", start_ms=T0 + 10 * DAY_MS)
    c = counts([old, new], half_life_days=10.0)
    assert c[2, 3] == pytest.approx(1.0)
    assert c[0, 1] == pytest.approx(0.5, rel=1e-4)  # ten days older than the newest event


def test_popularity_normalization_prefers_the_specific_neighbour() -> None:
    # "b" follows "a" twice; the best-seller "d" follows "a" twice too but is everywhere else as well
    logs = [seq("u1", "a", "b"), seq("u2", "a", "b"), seq("u3", "a", "d"), seq("u4", "a", "d")]
    logs += [seq(f"x{i}", "c", "d") for i in range(8)]
    corpus = encode(logs, IDS, len(IDS), EventWeights())
    raw = ItemToItem.build(corpus, CooccurParams(**{**FLAT, "beta": 0.0})).similarity.toarray()
    assert raw[0, 1] == raw[0, 3]
    normalized = ItemToItem.build(corpus, CooccurParams(**{**FLAT, "beta": 0.5})).similarity.toarray()
    assert normalized[0, 1] > normalized[0, 3]
    assert normalized[0, 1] == pytest.approx(2 / (2**0.5))  # C / n_b ** 0.5, alpha 0


def test_keep_top_keeps_each_rows_best_and_breaks_ties_by_column() -> None:
    m = sp.csr_matrix(np.array([[0.0, 3.0, 1.0, 3.0], [2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], dtype=np.float32))
    kept = keep_top(m, 2).toarray()
    assert kept[0].tolist() == [0.0, 3.0, 0.0, 3.0]
    assert kept[1].tolist() == [2.0, 0.0, 0.0, 0.0] and not kept[2].any()
    assert keep_top(m, 1).toarray()[0].tolist() == [0.0, 3.0, 0.0, 0.0]


def test_the_corpus_hash_follows_the_data() -> None:
    one = encode([seq("u", "a", "b")], IDS, len(IDS), EventWeights())
    same = encode([seq("v", "a", "b")], IDS, len(IDS), EventWeights())
    other = encode([seq("u", "a", "c")], IDS, len(IDS), EventWeights())
    assert one.digest() == same.digest() != other.digest()
    assert one.digest(CooccurParams()) != one.digest(CooccurParams(window=4))


def test_split_history_keeps_dismissed_apart_and_ignores_unknown_products() -> None:
    interactions = [
        Interaction("a", EventType.view, T0 + 2),
        Interaction("zzz", EventType.purchase, T0 + 1),
        Interaction("b", EventType.dismiss, T0 + 3),
        Interaction("c", EventType.purchase, T0),
    ]
    h = split_history(interactions, IDS, EventWeights())
    assert h.positions.tolist() == [2, 0] and h.dismissed.tolist() == [1] and h.unknown == ("zzz",)
