"""Next-item evaluation: the metrics by hand and against the tie-aware ranking metrics, the protocol (nothing
learned from a test item, no validation item as a training target, history removed), the Beauty loader."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from service.evaluation.metrics import ndcg_at_k, recall_at_k, tie_groups
from service.evaluation.next_item import (
    AMAZON_BEAUTY,
    build_eval_model,
    evaluate_scorer,
    expected_metrics,
    from_sequences,
    load_beauty,
    run_next_item,
    target_ranks,
)
from service.personalize.contract import EventType
from service.personalize.corpus import History
from tests.support.shoppers import campers_and_phones, catalog, seq


def test_metrics_match_a_hand_computed_example() -> None:
    # 6 products; the target (2) scores 0.5; products 0 and 4 score higher; 3 ties with it; 1 is history
    scores = np.array([[0.9, 5.0, 0.5, 0.5, 0.7, 0.1]])
    removed = np.array([[False, True, False, False, False, False]])
    above, ties = target_ranks(scores, np.array([2]), removed)
    assert above.tolist() == [2] and ties.tolist() == [2]  # the removed 5.0 does not count
    # the target is at place 3 or 4 (1-based), each with chance 1/2
    m = expected_metrics(above, ties, ks=(3, 5, 10))
    assert m["recall@3"][0] == 0.5 and m["recall@5"][0] == 1.0
    assert m["ndcg@3"][0] == pytest.approx(0.5 / math.log2(4))
    assert m["ndcg@5"][0] == pytest.approx(0.5 / math.log2(4) + 0.5 / math.log2(5))


def test_metrics_agree_with_the_tie_aware_ranking_metrics() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = 30
        scores = rng.integers(0, 6, size=n).astype(float)  # many ties
        target = int(rng.integers(0, n))
        removed = rng.random(n) < 0.2
        removed[target] = False
        above, ties = target_ranks(scores[None, :], np.array([target]), removed[None, :])
        got = expected_metrics(above, ties, ks=(5, 10))
        kept = [i for i in np.argsort(-scores, kind="stable") if not removed[i]]
        ranking = tie_groups([str(i) for i in kept], [scores[i] for i in kept])
        for k in (5, 10):
            assert got[f"ndcg@{k}"][0] == pytest.approx(ndcg_at_k(ranking, {str(target): 1.0}, k))
            assert got[f"recall@{k}"][0] == pytest.approx(recall_at_k(ranking, {str(target)}, k))


def test_a_removed_target_scores_zero() -> None:
    above, ties = target_ranks(np.array([[1.0, 2.0]]), np.array([0]), np.array([[True, False]]))
    assert ties.tolist() == [0]
    assert expected_metrics(above, ties)["recall@10"][0] == 0.0 == expected_metrics(above, ties)["ndcg@10"][0]


def test_evaluate_scorer_averages_over_every_shopper_and_removes_history() -> None:
    histories = [
        History(np.array([0]), np.ones(1, np.float32), np.empty(0, np.int64)),
        History(np.array([1]), np.ones(1, np.float32), np.empty(0, np.int64)),
    ]

    def scorer(hs):  # type: ignore[no-untyped-def]
        # the history itself scores highest: it must be removed, not counted as a miss
        out = np.tile(np.array([3.0, 2.0, 1.0, 0.0]), (len(hs), 1))
        for row, h in enumerate(hs):
            out[row, h.positions] = 10.0
        return out

    m = evaluate_scorer(scorer, histories, np.array([2, 3]), 4, ks=(1, 5))
    # shopper 0: ranking 1, 2, 3 -> target 2 at place 2; shopper 1: 0, 2, 3 -> target 3 at place 3
    assert m["recall@1"] == 0.0 and m["recall@5"] == 1.0
    assert m["ndcg@5"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / 2)


def shop_data():  # type: ignore[no-untyped-def]
    return from_sequences("shop", catalog(), campers_and_phones())


def test_training_is_every_shoppers_sequence_but_its_last_two() -> None:
    data = shop_data()
    train = data.training()
    for s in range(data.shoppers):
        full = data.steps.item[data.steps.ptr[s] : data.steps.ptr[s + 1]].tolist()
        kept = train.item[train.ptr[s] : train.ptr[s + 1]].tolist()
        assert kept == full[:-2] if len(full) > 2 else kept == []


def test_validation_and_test_inputs_and_targets() -> None:
    data = shop_data()
    ids = [p.id for p in data.catalog.products]
    v_hist, v_targets = data.split("validation")
    t_hist, t_targets = data.split("test")
    assert [ids[p] for p in v_hist[0].positions] == ["tent", "bag", "mat"] and ids[v_targets[0]] == "stove"
    assert [ids[p] for p in t_hist[0].positions] == ["tent", "bag", "mat", "stove"] and ids[t_targets[0]] == "mug"
    assert len(v_hist) == 12  # the shopper with a single step is not evaluated


def test_nothing_is_learned_from_a_target() -> None:
    """A product seen only as shoppers' last (test) or second-last (validation) item is cold to the model."""
    logs = [seq(f"u{i}", "tent", "bag", "mat", "stove", "charger") for i in range(5)]  # charger: always last
    logs += [seq(f"v{i}", "phone", "case", "mug", "tent") for i in range(5)]  # mug: always validation
    data = from_sequences("shop", catalog(), logs)
    model = build_eval_model(data).blend
    ids = [p.id for p in data.catalog.products]
    i2i = model.item2item.similarity.toarray()
    for leaked in ("charger", "mug", "stove"):
        col = ids.index(leaked)
        assert not i2i[:, col].any() and not i2i[col].any(), f"{leaked} was learned from"
        assert model.popularity.popular[col] == 0.0
    assert i2i[ids.index("tent"), ids.index("bag")] > 0  # inside seq[:-2]: learned


def test_a_shop_log_keeps_each_products_first_occurrence_with_its_strongest_event() -> None:
    log = [seq("u", ("tent", EventType.view), "bag", ("tent", EventType.purchase), ("mat", EventType.dismiss), "stove")]
    data = from_sequences("shop", catalog(), log)
    ids = [p.id for p in data.catalog.products]
    assert [ids[p] for p in data.steps.item] == ["tent", "bag", "stove"]
    assert data.steps.weight.tolist() == [1.0, 1.0, 1.0]  # the tent view was followed by its purchase


def test_the_shop_run_reports_every_method_on_both_splits() -> None:
    report = run_next_item(shop_data())
    got = {(r.method, r.split) for r in report.results}
    assert got == {(m, s) for m in ("popularity", "content", "item2item", "blend") for s in ("validation", "test")}
    rows = {(r.method, r.split): r.metrics for r in report.results}
    # campers' validation target (stove after tent, bag, mat) is what item-to-item learned
    assert rows[("item2item", "validation")]["recall@5"] > rows[("popularity", "validation")]["recall@5"]
    assert report.to_dict()["shoppers"] == 12 and "blend" in report.to_table()


def write_beauty(root: Path, sequences: list[list[str]], titles: dict[str, str]) -> Path:
    folder = root / "amazon-beauty-2014"
    folder.mkdir(parents=True)
    (folder / "user_sequence.txt").write_text(
        "\n".join(f"U{i} {' '.join(s)}" for i, s in enumerate(sequences)) + "\n", encoding="utf-8"
    )
    to_int = {asin: i for i, asin in enumerate(titles)}
    (folder / "item_id_to_int.json").write_text(json.dumps(to_int), encoding="utf-8")
    with (folder / "products_lookup.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", "global_product_id", "name"])
        for asin, i in to_int.items():
            writer.writerow([i, i, titles[asin]])
    return root


def test_the_beauty_loader_joins_titles_as_its_readme_says(tmp_path: Path) -> None:
    titles = {"A1": "Rose face cream", "A2": "Rose night cream", "A3": "", "A4": "Nail polish red", "A5": "Nail file"}
    root = write_beauty(tmp_path, [["A1", "A2", "A3", "A4"], ["A4", "A5", "A1"]], titles)
    data = load_beauty(root)
    assert data.name == AMAZON_BEAUTY and data.shoppers == 2
    by_id = {p.id: p.title for p in data.catalog.products}
    assert by_id["A1"] == "Rose face cream" and by_id["A3"] == "A3"  # an empty name: titled by its ASIN
    assert [data.catalog.products[p].id for p in data.steps.item[:4]] == ["A1", "A2", "A3", "A4"]


def test_the_beauty_loader_names_a_missing_file(tmp_path: Path) -> None:
    from service.errors import ConfigError

    with pytest.raises(ConfigError, match="user_sequence.txt"):
        load_beauty(tmp_path)
