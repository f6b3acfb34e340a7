"""``shopguide eval`` end to end: the CLI over a shop's own JSONL dataset; BM25, hybrid, and the pipeline
against the scripted upstream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.cli import main
from tests.support.openai_upstream import reply_fn
from tests.support.picks import prompt_candidates

PRODUCTS = [
    {"id": "p1", "title": "Warm jacket for warm days", "description": "A warm jacket, warm and light."},
    {"id": "p2", "title": "Insulated winter parka", "description": "Goose down jacket for deep winter; warm."},
    {"id": "p3", "title": "USB-C wall charger 30W", "description": "Fast charging for phones and tablets."},
    {"id": "p4", "title": "Portable power bank 10000mAh", "description": "Charge your phone anywhere."},
    {"id": "p5", "title": "Ceramic coffee mug", "description": "Holds 350 ml."},
]
JUDGED = [
    {"query": "warm jacket", "relevant": {"p2": 3, "p1": 0}},
    {"query": "phone charger", "relevant": {"p3": 2, "p4": 2}},
]


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("\n".join(json.dumps(p) for p in PRODUCTS) + "\n", encoding="utf-8")
    judged = tmp_path / "judged.jsonl"
    judged.write_text("\n".join(json.dumps(q) for q in JUDGED) + "\n", encoding="utf-8")
    monkeypatch.setenv("SHOPGUIDE_INDEX_DIR", str(tmp_path / "index"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SHOPGUIDE_PROVIDERS", "REDIS_URL", "SHOPGUIDE_RETRIEVAL"):
        monkeypatch.delenv(name, raising=False)
    return judged, catalog


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["eval", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def rows(out: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["retrieval"], r["view"]): r for r in out["results"]}


def test_eval_prints_bm25_and_hybrid_in_both_views(shop, capsys) -> None:
    judged, catalog = shop
    out = run_json(capsys, "--dataset", str(judged), "--catalog", str(catalog), "--retrieval", "bm25", "--retrieval", "hybrid")
    assert out["dataset"] == "judged" and out["queries"] == 2
    got = rows(out)
    assert set(got) == {("bm25", "full"), ("bm25", "pool"), ("hybrid", "full"), ("hybrid", "pool")}
    for row in got.values():
        assert {"ndcg@10", "recall@10", "recall@50", "mrr"} <= set(row) and 0 <= row["ndcg@10"] <= 1
    # "phone charger": the power bank says "charge", not "charger"; the embedder relates them
    assert got[("hybrid", "full")]["recall@10"] >= got[("bm25", "full")]["recall@10"]


def test_eval_table_is_the_default_output(shop, capsys) -> None:
    judged, catalog = shop
    assert main(["eval", "--dataset", str(judged), "--catalog", str(catalog), "--retrieval", "bm25"]) == 0
    table = capsys.readouterr().out
    assert "retrieval" in table.splitlines()[1] and "ndcg@10" in table and "bm25" in table


def test_pipeline_ranks_the_models_picks_first(shop, capsys, monkeypatch, upstream) -> None:
    """The scripted model picks retrieval's candidates in reverse: the pipeline's ranking follows the model."""
    judged, catalog = shop

    def reverse(body: dict[str, Any]) -> dict[str, Any]:
        picks = [c["id"] for c in reversed(prompt_candidates(body))]
        return {"items": [{"id": pid, "reason": "fits"} for pid in picks], "summary": "picked"}

    upstream.default(reply_fn(reverse))
    monkeypatch.setenv("OPENAI_BASE_URL", upstream.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("SHOPGUIDE_PROVIDERS", "openai")
    argv = ["eval", "--dataset", str(judged), "--catalog", str(catalog), "--json"]
    assert main([*argv, "--retrieval", "bm25", "--retrieval", "pipeline", "--view", "full"]) == 0
    printed = capsys.readouterr()
    got = rows(json.loads(printed.out))
    # "warm jacket": bm25 puts p1 (warm x5) before p2; the model's reverse order puts p2 first
    assert got[("bm25", "full")]["mrr"] == 0.75
    assert got[("pipeline", "full")]["mrr"] == 1.0
    assert got[("pipeline", "full")]["ndcg@10"] > got[("bm25", "full")]["ndcg@10"]
    assert len(upstream.chat_requests) == 2  # one call per query, none cached away
    first_prompt = upstream.chat_requests[0].messages[-1]["content"]
    assert "Insulated winter parka" in first_prompt
    assert "pipeline: 2 answers, 0 degraded" in printed.err


def test_pipeline_ranker_honours_each_querys_allow_list(shop, upstream) -> None:
    """The same words with another allow-list are retrieved again, not served from the service's memo."""
    from service.catalog.load import load_catalog
    from service.evaluation.pipeline import PipelineRanker
    from service.retrieve.factory import build_retriever
    from service.settings import load_settings
    from service.validate.recommend import Filters
    from tests.support.picks import pick_first_k

    _, catalog_path = shop
    upstream.default(reply_fn(pick_first_k))
    settings = load_settings(catalog=str(catalog_path), providers="openai", openai_base_url=upstream.base_url,
                             openai_api_key="sk-test-0123456789")
    catalog = load_catalog(settings.catalog)
    ranker = PipelineRanker(catalog, settings, build_retriever(catalog, settings))
    filters = Filters(in_stock=False)
    first = ranker.search("warm jacket", filters, 10, restrict_ids={"p1"})
    second = ranker.search("warm jacket", filters, 10, restrict_ids={"p2"})
    assert [c.product.id for c in first] == ["p1"] and [c.product.id for c in second] == ["p2"]


def test_eval_reads_the_datasets_dir_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("SHOPGUIDE_DATASETS_DIR", str(tmp_path))
    assert main(["eval", "--dataset", "crowdflower"]) == 2
    assert f"dataset file not found: {tmp_path / 'crowdflower-search'}" in capsys.readouterr().err
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert main(["eval", "--dataset", "crowdflower", "--datasets-dir", str(other)]) == 2  # the flag wins
    assert f"not found: {other / 'crowdflower-search'}" in capsys.readouterr().err
    monkeypatch.setenv("SHOPGUIDE_DATASETS_DIR", str(tmp_path / "missing"))
    assert main(["eval", "--dataset", "crowdflower"]) == 2
    assert "SHOPGUIDE_DATASETS_DIR: not a directory" in capsys.readouterr().err
