"""The runner end to end on a tiny hand-checked dataset, the split, and the restrict_ids contract."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import pytest

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.evaluation.baselines import PlainBm25
from service.evaluation.datasets import EvalDataset, EvalQuery, Grading
from service.evaluation.runner import EvalReport, evaluate, query_part, select_queries
from service.retrieve.base import Candidate
from service.validate.recommend import Filters

PRODUCTS = [
    Product(id="jacket-down", title="Down jacket", description="Warm winter down coat"),
    Product(id="jacket-rain", title="Rain jacket", description="Light waterproof shell"),
    Product(id="boots", title="Winter boots", description="Insulated snow boots"),
    Product(id="charger", title="USB-C charger", description="65 W fast charging"),
    Product(id="cable", title="USB-C cable", description="Braided charging cable, 2 m"),
    Product(id="lamp", title="Desk lamp", description="LED lamp with dimmer"),
]
QUERIES = [
    EvalQuery("q-jacket", "warm winter jacket", {"jacket-down": 3, "jacket-rain": 1, "boots": 2}),
    EvalQuery("q-charger", "usb-c charger", {"charger": 3, "cable": 1, "lamp": 0}),
    EvalQuery("q-sofa", "sofa", {"lamp": 0}),  # nothing relevant, no positive gain
]


def tiny_dataset() -> EvalDataset:
    return EvalDataset(name="tiny", products=PRODUCTS, queries=QUERIES, grading=Grading(min_grade=0, relevant_at=2))


def row(report: EvalReport, retrieval: str, view: str) -> dict[str, object]:
    return next(r.to_dict() for r in report.rows if r.retrieval == retrieval and r.view == view)


class FixedRanker:
    """Returns a fixed ranking per query (scores all distinct), batching queries, honouring restrict_ids."""

    def __init__(self, catalog: Catalog, rankings: dict[str, list[str]]) -> None:
        self.catalog = catalog
        self.rankings = rankings
        self.batches: list[int] = []

    def search(
        self, query: str, filters: Filters, n: int, *, restrict_ids: Collection[str] | None = None
    ) -> list[Candidate]:
        ids = [pid for pid in self.rankings.get(query, []) if restrict_ids is None or pid in restrict_ids][:n]
        return [Candidate(self.catalog.by_id[pid], float(len(ids) - i)) for i, pid in enumerate(ids)]

    def search_many(
        self,
        queries: Sequence[str],
        filters: Filters,
        n: int,
        *,
        restrict_ids: Sequence[Collection[str]] | None = None,
    ) -> list[list[Candidate]]:
        self.batches.append(len(queries))
        allowed = restrict_ids or [None] * len(queries)
        return [self.search(q, filters, n, restrict_ids=a) for q, a in zip(queries, allowed)]


def test_end_to_end_hand_computed() -> None:
    rankings = {
        "warm winter jacket": ["jacket-rain", "lamp", "jacket-down"],  # gains 1, 0, 7 (grade 3 -> 2**3 - 1)
        "usb-c charger": ["charger", "cable"],
        "sofa": [],
    }
    rankers: list[FixedRanker] = []

    def factory(catalog: Catalog) -> FixedRanker:
        rankers.append(FixedRanker(catalog, rankings))
        return rankers[-1]

    report = evaluate(tiny_dataset(), {"fixed": factory}, recall_ks=(1, 50))
    ideal_jacket = 7 + 3 / math.log2(3) + 1 / 2
    ndcg_jacket = (1 + 7 / 2) / ideal_jacket
    full = row(report, "fixed", "full")
    assert full["ndcg@10"] == round((ndcg_jacket + 1.0 + 0.0) / 3, 4)  # sofa: no positive gain, nDCG 0
    assert full["recall@1"] == round((0 + 1) / 2, 4)  # relevant = grade >= 2: {down, boots}, {charger}
    assert full["recall@50"] == round((1 / 2 + 1) / 2, 4)
    assert full["mrr"] == round((1 / 3 + 1) / 2, 4)
    assert (full["queries"], full["queries_relevant"]) == (3, 2)

    # pool: the unreturned judged boots join the pool as a last group; lamp is outside the jacket pool
    pool = row(report, "fixed", "pool")
    ndcg_pool_jacket = (1 + 7 / math.log2(3) + 3 / 2) / ideal_jacket
    assert pool["ndcg@10"] == round((ndcg_pool_jacket + 1.0 + 0.0) / 3, 4)
    assert pool["mrr"] == round((1 / 2 + 1) / 2, 4)
    assert pool["recall@50"] == 1.0
    assert rankers[0].batches == [3, 3]  # search_many used, one chunk per view
    assert report.build_seconds["fixed"] >= 0 and report.products == 6 and report.queries == 3


def test_bm25_baseline_end_to_end() -> None:
    report = evaluate(tiny_dataset(), {"bm25": PlainBm25.build})
    full, pool = row(report, "bm25", "full"), row(report, "bm25", "pool")
    # jacket query: down jacket (3 terms) first, then rain jacket and boots tie (one term each, same
    # length): they share ranks 2-3, gains 1 and 3 averaged. Charger query: charger, cable = ideal.
    ideal_jacket = 7 + 3 / math.log2(3) + 1 / 2
    ndcg_jacket = (7 + (1 + 3) / 2 * (1 / math.log2(3) + 1 / 2)) / ideal_jacket
    assert full["ndcg@10"] == pool["ndcg@10"] == round((ndcg_jacket + 1 + 0) / 3, 4)
    assert full["mrr"] == pool["mrr"] == 1.0
    assert full["recall@10"] == pool["recall@50"] == 1.0
    lines = report.to_table().splitlines()
    assert lines[1].split() == ["retrieval", "view", "ndcg@10", "recall@10", "recall@50", "mrr", "queries", "seconds"]
    assert lines[2].split()[:7] == ["bm25", "full", f"{full['ndcg@10']:.4f}", "1.0000", "1.0000", "1.0000", "3/2"]


def test_ties_are_averaged_or_trusted() -> None:
    class Flat:
        def __init__(self, catalog: Catalog) -> None:
            self.catalog = catalog

        def search(self, query: str, filters: Filters, n: int, *, restrict_ids: Collection[str] | None = None):
            ids = ["lamp", "charger"] if "usb" in query else []
            return [Candidate(self.catalog.by_id[pid], 1.0) for pid in ids]

    dataset = tiny_dataset()
    averaged = evaluate(dataset, {"flat": Flat}, views=("full",))
    trusted = evaluate(dataset, {"flat": Flat}, views=("full",), ties="ordered")
    assert row(averaged, "flat", "full")["mrr"] == round((0 + (1 + 1 / 2) / 2) / 2, 4)
    assert row(trusted, "flat", "full")["mrr"] == round((0 + 1 / 2) / 2, 4)


def test_restrict_ids_must_be_honoured() -> None:
    class Leaky:
        def __init__(self, catalog: Catalog) -> None:
            self.catalog = catalog

        def search(self, query: str, filters: Filters, n: int, *, restrict_ids: Collection[str] | None = None):
            return [Candidate(self.catalog.by_id["boots"], 1.0)]

    with pytest.raises(ValueError, match="restrict_ids ignored"):
        evaluate(tiny_dataset(), {"leaky": Leaky}, views=("pool",))
    with pytest.raises(ValueError, match="unknown view"):
        evaluate(tiny_dataset(), {"leaky": Leaky}, views=("everything",))  # type: ignore[arg-type]


def test_split_is_deterministic_disjoint_and_balanced() -> None:
    queries = [EvalQuery(f"q{i}", f"query {i}", {"p": 1}) for i in range(2000)]
    tune = select_queries(queries, "tune")
    test = select_queries(queries, "test")
    assert {q.qid for q in tune}.isdisjoint(q.qid for q in test)
    assert len(tune) + len(test) == 2000
    assert 900 < len(tune) < 1100
    assert select_queries(queries, "tune") == tune
    assert query_part("q0") == query_part("q0")
    assert all(query_part(q.qid, tune_share=1.0) == "tune" for q in queries[:50])
    sample = select_queries(queries, "test", limit=10)
    assert len(sample) == 10 and set(q.qid for q in sample) <= {q.qid for q in test}
    assert sample == select_queries(list(reversed(queries)), "test", limit=10)
