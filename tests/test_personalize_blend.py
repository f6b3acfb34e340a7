"""The served recommender: what a history implies (item-to-item, content), cold shoppers and cold products,
dismissals, exclusions, the Recommender contract, and rebuilding as events arrive."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from service.personalize.blend import Blend
from service.personalize.contract import EventType, Recommender
from service.personalize.factory import build_blend
from service.personalize.refresh import Refreshing
from service.settings import load_settings
from tests.support.shoppers import DAY_MS, campers_and_phones, catalog, history, lexical, seq


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("personalize-index")


@pytest.fixture(scope="module")
def model(index_dir: Path) -> Blend:
    return build_blend(load_settings(index_dir=str(index_dir)), catalog(), campers_and_phones(), lexical=lexical())


def ids(affinities) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.product_id for a in affinities]


def test_it_is_a_recommender(model: Blend) -> None:
    served: Recommender = model  # the contract is a static Protocol; its three methods are what the step calls
    assert all(callable(getattr(served, name)) for name in ("rerank", "for_you", "observe"))
    assert served.observe("key", history("tent")[0]) is None


def test_for_you_follows_what_shoppers_did_next(model: Blend) -> None:
    got = model.for_you(history("tent"), 3)
    assert ids(got)[0] == "bag"
    assert got[0].source == "item2item" and got[0].because == ("tent",)
    assert "tent" not in ids(got)  # never what the shopper already has
    phones = model.for_you(history("phone"), 2)
    assert ids(phones) == ["case", "charger"]


def test_the_latest_step_counts_most(model: Blend) -> None:
    got = ids(model.for_you(history("phone", "tent"), 1))
    assert got == ["bag"]
    assert ids(model.for_you(history("tent", "phone"), 1)) == ["case"]


def test_a_cold_product_is_reachable_through_its_text(model: Blend) -> None:
    # nobody ever bought the pillow; the mat's "inflatable" and the campers' "camping" lead to it
    got = {a.product_id: a for a in model.for_you(history("mat"), 9)}
    assert "pillow" in got and got["pillow"].source == "content" and got["pillow"].because == ("mat",)
    reranked = model.rerank(history("mat"), ["pillow", "mug", "phone"])
    assert reranked["pillow"].source == "content"


def test_a_cold_shopper_gets_popular_products(model: Blend) -> None:
    got = model.for_you([], 3)
    assert ids(got)[0] == "mug"  # bought by every shopper
    assert all(a.source in ("popular", "trending") and a.because == () for a in got)
    assert model.rerank([], ["mug", "tent"]) == {}  # no personal signal: nothing to rerank by


def test_a_cold_shopper_within_a_category(model: Blend) -> None:
    got = ids(model.for_you([], 5, category="Electronics"))
    assert got and set(got) <= {"phone", "case", "charger"}
    assert set(ids(model.for_you([], 5, category="Electronics/Accessories"))) == {"case", "charger"}
    assert model.for_you([], 5, category="Garden") == []


def test_trending_rises_above_an_old_best_seller(index_dir: Path) -> None:
    old = [seq(f"o{i}", "tent", start_ms=0 + i) for i in range(5)]
    new = [seq(f"n{i}", "phone", start_ms=60 * DAY_MS + i) for i in range(3)]
    fresh = build_blend(load_settings(index_dir=str(index_dir)), catalog(), old + new, lexical=lexical())
    got = fresh.for_you([], 2)
    assert ids(got) == ["phone", "tent"] and got[0].source == "trending"


def test_out_of_stock_and_excluded_products_never_come_back(model: Blend) -> None:
    got = ids(model.for_you(history("bag"), 10))
    assert "gone" not in got  # a similar title, but out of stock
    assert "mat" not in ids(model.for_you(history("bag"), 10, exclude=frozenset({"mat"})))


def test_a_dismissed_product_never_returns_and_its_like_weigh_less(model: Blend) -> None:
    base = model.for_you(history("tent", "stove"), 9)
    dismissed = model.for_you(history("tent", "stove", ("mat", EventType.dismiss)), 9)
    assert "mat" in ids(base) and "mat" not in ids(dismissed)
    before = {a.product_id: a.score for a in base}
    after = {a.product_id: a.score for a in dismissed}
    # the pillow is like the mat (inflatable, camping): it drops (here out of the answer); the phone case
    # is unlike it: unchanged
    assert before["pillow"] > 0 and after.get("pillow", 0.0) < before["pillow"]
    assert after.get("case", 0) == pytest.approx(before.get("case", 0))
    reranked = model.rerank(history("tent", "stove", ("mat", EventType.dismiss)), ["pillow", "case"])
    assert reranked["pillow"].score < before["pillow"]
    assert "case" not in reranked  # neither the tent nor the dismissed mat speaks for it


def test_rerank_scores_only_what_the_history_speaks_for(model: Blend) -> None:
    got = model.rerank(history("tent", "bag"), ["mat", "stove", "phone", "unknown-id", "mat"])
    assert set(got) == {"mat", "stove"}
    assert got["mat"].score > got["stove"].score
    assert got["mat"].because[0] == "bag" and set(got["mat"].because) == {"bag", "tent"}


def test_unknown_products_in_a_history_are_ignored(model: Blend) -> None:
    assert ids(model.for_you(history("no-such-product"), 1)) == ["mug"]


def test_a_shared_model_answers_threads_alike(model: Blend) -> None:
    want = ids(model.for_you(history("tent"), 3))
    got: list[list[str]] = []

    def ask() -> None:
        got.append(ids(model.for_you(history("tent"), 3)))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [want] * 8


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refreshing_rebuilds_after_enough_events_and_time(model: Blend) -> None:
    built: list[int] = []

    def rebuild() -> Blend:
        built.append(1)
        return model

    clock = FakeClock()
    refreshing = Refreshing(model, rebuild, rebuild_events=3, min_interval_s=60, clock=clock)
    event = history("tent")[0]
    for _ in range(5):
        refreshing.observe("k", event)
    refreshing.wait(5)
    assert built == []  # enough events, not enough time
    clock.now += 61
    refreshing.observe("k", event)
    refreshing.wait(5)
    assert built == [1] and refreshing.rebuilds == 1
    assert ids(refreshing.for_you(history("tent"), 1)) == ["bag"]


def test_a_failed_rebuild_keeps_the_model_serving(model: Blend) -> None:
    def broken() -> Blend:
        raise RuntimeError("store down")

    clock = FakeClock()
    refreshing = Refreshing(model, broken, rebuild_events=1, min_interval_s=1, clock=clock)
    clock.now += 5
    refreshing.observe("k", history("tent")[0])
    refreshing.wait(5)
    assert refreshing.model is model and refreshing.rebuilds == 0


def test_category_and_brand_affinity_lift_products_nobody_paired(index_dir: Path) -> None:
    # only the tent was ever bought: nothing co-occurs with it, and no title shares a word with the sleeping bag
    lonely = build_blend(load_settings(index_dir=str(index_dir)), catalog(), [seq("u", "tent")], lexical=lexical())
    got = lonely.rerank(history("tent"), ["bag", "stove", "case"])
    # the bag shares the tent's category and brand (Alpina), the stove only the category, the case neither
    assert got["bag"].score > got["stove"].score > 0 and "case" not in got
    assert got["bag"].because == ("tent",) and got["bag"].source == "content"


@pytest.mark.parametrize(
    "steps",
    [
        ("tent",),
        ("tent", "bag", "phone"),
        ("mat", ("tent", EventType.click), ("phone", EventType.add_to_cart)),
        ("tent", "stove", ("mat", EventType.dismiss)),
        ("phone", ("case", EventType.dismiss), ("charger", EventType.dismiss), "tent"),
    ],
)
def test_rerank_at_the_candidates_equals_the_catalog_wide_blend(model: Blend, steps: tuple) -> None:
    """rerank computes its scores at the candidates only; they are the catalog-wide blend's, term by term."""
    encoded = model.history(history(*steps))
    parts = model.parts([encoded])
    scores = model.combine(parts)[0]
    profile = model._profile(parts)
    got = model.rerank(history(*steps), list(model.ids))
    speaking = {
        pid for pos, pid in enumerate(model.ids)
        if model.params.item2item * parts.item2item[0, pos] + model.params.content * parts.content[0, pos]
        + profile[pos] > 0 or parts.dismissed[0, pos] > 0
    }
    assert set(got) == speaking and speaking
    for pid, affinity in got.items():
        pos = model.position_of[pid]
        assert affinity.score == pytest.approx(float(scores[pos]), rel=1e-9, abs=1e-12)
        assert affinity.source == model._source(parts, profile, pos)
        assert affinity.because == model._because(encoded, np.array([pos]))[0]


def _because_reference(model: Blend, encoded, targets: np.ndarray) -> list[tuple[str, ...]]:
    """The explanations as first written (a loop per target column): what the array version must equal."""
    positions, weights = model.step_weights(encoded)
    contribution = model._i2i_rows.entries(positions, targets) * (weights[:, None] * model.params.item2item)
    contribution += model._content_rows.entries(positions, targets) * (weights[:, None] * model.params.content)
    for codes, weight in ((model._category_codes, model.params.category), (model._brand_codes, model.params.brand)):
        same = (codes[positions][:, None] == codes[targets][None, :]) & (codes[positions][:, None] > 0)
        contribution += same * (weights[:, None] * weight / weights.sum())
    out = []
    for col in range(len(targets)):
        column = contribution[:, col]
        order = [r for r in np.argsort(-column, kind="stable") if column[r] > 0]
        out.append(tuple(dict.fromkeys(model.ids[positions[r]] for r in order))[:3])
    return out


def test_explanations_equal_the_per_column_reference_on_random_histories(model: Blend) -> None:
    rng = np.random.default_rng(7)
    products = [pid for pid in model.ids if pid != "gone"]
    kinds = [EventType.purchase, EventType.click, EventType.add_to_cart, EventType.view]
    targets = np.arange(len(model.ids))
    for _ in range(300):
        steps = [(str(rng.choice(products)), kinds[int(rng.integers(len(kinds)))]) for _ in range(rng.integers(1, 12))]
        encoded = model.history(history(*steps))  # repeats of a product happen: they must be named once
        if encoded.empty:
            continue
        assert model._because(encoded, targets) == _because_reference(model, encoded, targets), steps
