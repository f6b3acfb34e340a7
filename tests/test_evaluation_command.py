"""``shopguide eval`` functions: arguments, table and JSON output, errors as exit status 2."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from service.errors import ConfigError
from service.evaluation.baselines import PlainBm25
from service.evaluation.command import add_eval_arguments, main_eval, run_eval
from tests.support.datasets import public_datasets_dir


@pytest.fixture
def shop_files(tmp_path: Path) -> tuple[Path, Path]:
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text(
        "\n".join(
            json.dumps(p)
            for p in [
                {"id": "p1", "title": "Down jacket", "description": "Warm winter coat"},
                {"id": "p2", "title": "Rain jacket"},
                {"id": "p3", "title": "USB-C charger"},
            ]
        ),
        encoding="utf-8",
    )
    queries = tmp_path / "judged.jsonl"
    queries.write_text(
        json.dumps({"query": "winter coat", "relevant": {"p1": 2, "p2": 1}})
        + "\n"
        + json.dumps({"query": "charger", "relevant": {"p3": 1}})
        + "\n",
        encoding="utf-8",
    )
    return queries, catalog


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shopguide eval")
    add_eval_arguments(p)
    return p


def test_run_eval_json_shape(shop_files: tuple[Path, Path]) -> None:
    queries, catalog = shop_files
    out = json.loads(run_eval(str(queries), ["bm25-baseline"], as_json=True, catalog=catalog))
    assert out["dataset"] == "judged" and out["queries"] == 2 and out["split"] == "all"
    assert [(r["retrieval"], r["view"]) for r in out["results"]] == [
        ("bm25-baseline", "full"),
        ("bm25-baseline", "pool"),
    ]
    full, pool = out["results"]
    assert {"ndcg@10", "recall@10", "recall@50", "mrr", "queries", "queries_relevant"} <= set(full)
    # "winter coat": only p1 matches (gain 3); the rain jacket (gain 1) is missed in the full view
    # but joins the pool's tail in the pool view. "charger": p3 first.
    assert full["ndcg@10"] == round((3 / (3 + 1 / math.log2(3)) + 1) / 2, 4)
    assert pool["ndcg@10"] == 1.0
    assert full["mrr"] == pool["mrr"] == 1.0


def test_run_eval_with_other_factories_and_unknown_names(shop_files: tuple[Path, Path]) -> None:
    queries, catalog = shop_files
    factories = {"bm25": PlainBm25, "hybrid": PlainBm25}
    table = run_eval(str(queries), ["bm25", "hybrid"], factories=factories, catalog=catalog)
    assert [line.split()[:2] for line in table.splitlines()[2:6]] == [
        ["bm25", "full"],
        ["bm25", "pool"],
        ["hybrid", "full"],
        ["hybrid", "pool"],
    ]
    with pytest.raises(ConfigError, match="--retrieval: unknown dense"):
        run_eval(str(queries), ["dense"], catalog=catalog)


def test_main_eval_prints_and_returns_status(
    shop_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    queries, catalog = shop_files
    args = parser().parse_args(["--dataset", str(queries), "--catalog", str(catalog), "--json", "--view", "pool"])
    assert main_eval(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["view"] for r in out["results"]] == ["pool"]

    args = parser().parse_args(["--dataset", str(queries)])  # no --catalog
    assert main_eval(args) == 2
    assert "--catalog is required" in capsys.readouterr().err


def test_arguments() -> None:
    args = parser().parse_args(["--dataset", "crowdflower", "--split", "test", "--limit", "20", "--retrieval", "x"])
    assert (args.dataset, args.split, args.limit, args.retrieval) == ("crowdflower", "test", 20, ["x"])
    assert not args.json and not args.ordered_ties
    with pytest.raises(SystemExit):
        parser().parse_args(["--dataset", "crowdflower", "--limit", "0"])
    with pytest.raises(SystemExit):
        parser().parse_args(["--dataset", "crowdflower", "--split", "dev"])


def test_crowdflower_sample_from_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    datasets_dir = public_datasets_dir()
    args = parser().parse_args(
        ["--dataset", "crowdflower", "--datasets-dir", str(datasets_dir), "--split", "test", "--limit", "30"]
    )
    assert main_eval(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("crowdflower (test split): 30 queries, 9913 products")
    assert [line.split()[1] for line in lines[2:4]] == ["full", "pool"]
