"""``shopguide personalize build`` and ``shopguide eval next-item`` end to end on a tiny shop's log;
the ``pipeline`` method against the scripted upstream; a slow smoke run on a slice of Amazon Beauty."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.cli import main
from tests.support.datasets import public_datasets_dir
from tests.support.openai_upstream import reply_fn
from tests.support.picks import prompt_candidates
from tests.support.shoppers import campers_and_phones, write_catalog, write_log


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("SHOPGUIDE_INDEX_DIR", str(tmp_path / "index"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SHOPGUIDE_PROVIDERS", "REDIS_URL", "SHOPGUIDE_PERSONALIZE_LOG"):
        monkeypatch.delenv(name, raising=False)
    return write_log(tmp_path / "log.jsonl", campers_and_phones()), write_catalog(tmp_path / "catalog.jsonl")


def test_build_learns_from_the_log_and_persists(shop, tmp_path: Path, capsys) -> None:
    log, catalog = shop
    with log.open("a", encoding="utf-8") as handle:
        handle.write('{"user_id": "x", "product_id": "tent", "timestamp": "soon"}\n')
    assert main(["personalize", "build", "--log", str(log), "--catalog", str(catalog), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["shoppers"] == 13 and out["products"] == 10 and out["bad_rows"] == 1
    assert out["errors"][0].startswith(f"line {sum(1 for _ in log.open()) }: timestamp")
    assert out["cold_products"] == 2  # the pillow and the liner: never in the log
    assert (tmp_path / "index" / out["model"] / "item2item.npz").is_file()
    # the same data again: loaded from the index dir under the same key
    assert main(["personalize", "build", "--log", str(log), "--catalog", str(catalog), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == out["model"]


def test_build_without_a_log_says_how_to_give_one(shop, capsys) -> None:
    assert main(["personalize", "build"]) == 2
    assert "--log FILE or set SHOPGUIDE_PERSONALIZE_LOG" in capsys.readouterr().err


def test_eval_next_item_on_a_shops_log(shop, tmp_path: Path, capsys) -> None:
    log, catalog = shop
    out_file = tmp_path / "report.json"
    argv = ["eval", "next-item", "--interactions", str(log), "--catalog", str(catalog), "--json", "--output", str(out_file)]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert json.loads(out_file.read_text()) == out
    assert out["shoppers"] == 12 and out["products"] == 10
    methods = {(r["method"], r["split"]) for r in out["results"]}
    assert ("blend", "test") in methods and ("popularity", "validation") in methods
    assert all(0 <= r["recall@10"] <= 1 and 0 <= r["ndcg@10"] <= r["recall@10"] for r in out["results"])


def test_eval_next_item_needs_a_catalog_for_a_log(shop, capsys) -> None:
    log, _ = shop
    assert main(["eval", "next-item", "--interactions", str(log)]) == 2
    assert "--interactions needs --catalog" in capsys.readouterr().err


def test_eval_next_item_reads_the_datasets_dir_setting(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SHOPGUIDE_DATASETS_DIR", str(tmp_path))
    assert main(["eval", "next-item", "--dataset", "amazon-beauty"]) == 2
    assert str(tmp_path / "amazon-beauty-2014" / "user_sequence.txt") in capsys.readouterr().err


def test_the_pipeline_method_ranks_the_models_picks_first(shop, monkeypatch, upstream, capsys) -> None:
    """The scripted model picks the blend's candidates in reverse: the pipeline's ranking follows it."""
    log, catalog = shop

    def reverse(body: dict[str, Any]) -> dict[str, Any]:
        picks = [c["id"] for c in reversed(prompt_candidates(body))]
        return {"items": [{"id": pid, "reason": "fits"} for pid in picks], "summary": "picked"}

    upstream.default(reply_fn(reverse))
    monkeypatch.setenv("OPENAI_BASE_URL", upstream.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("SHOPGUIDE_PROVIDERS", "openai")
    argv = ["eval", "next-item", "--interactions", str(log), "--catalog", str(catalog), "--json"]
    assert main([*argv, "--method", "pipeline", "--split", "validation", "--limit", "4"]) == 0
    printed = capsys.readouterr()
    rows = {r["method"]: r for r in json.loads(printed.out)["results"]}
    assert set(rows) == {"blend", "pipeline"} and rows["pipeline"]["shoppers"] == 4
    assert len(upstream.chat_requests) == 4  # one call per shopper, none cached away
    prompt = upstream.chat_requests[0].messages[-1]["content"]
    assert "Camping gas stove" in prompt or "USB-C charger 30W" in prompt  # the blend's candidates went in
    assert rows["pipeline"]["ndcg@10"] != rows["blend"]["ndcg@10"]  # the reversed picks moved the targets
    assert "pipeline: 4 answers, 0 degraded" in printed.err


@pytest.mark.slow
def test_beauty_smoke_on_a_slice(tmp_path: Path, monkeypatch, capsys) -> None:
    """The real dataset through the CLI, 2,000 shoppers: the served blend far above popularity."""
    monkeypatch.setenv("SHOPGUIDE_DATASETS_DIR", str(public_datasets_dir()))
    argv = ["eval", "next-item", "--dataset", "amazon-beauty", "--limit", "2000", "--split", "validation", "--json"]
    assert main([*argv, "--method", "popularity", "--method", "blend"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["method"]: r for r in out["results"]}
    assert out["products"] == 12101 and out["shoppers"] == 22363 and rows["blend"]["shoppers"] == 2000
    assert rows["blend"]["recall@10"] > 0.09 and rows["blend"]["ndcg@10"] > 0.05
    assert rows["popularity"]["recall@10"] < 0.03
    assert out["build_seconds"]["item2item_and_popularity"] < 30


def test_build_from_the_redis_event_store(shop, monkeypatch, redis_prefix, capsys) -> None:
    """What the service stored (the Redis stream) builds the same model a worker would learn from it."""
    import time

    from service.events.factory import build_event_store
    from service.events.store import StoredEvent
    from service.settings import load_settings
    from tests.support.redis_db import REDIS_URL
    from tests.support.shoppers import campers_and_phones, seq

    _, catalog = shop
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("SHOPGUIDE_CACHE_PREFIX", redis_prefix)
    settings = load_settings()
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    store = build_event_store(settings, client)
    now = int(time.time() * 1000) - 3_600_000
    events = [
        StoredEvent(event_id=f"{s.user_key}-{i}", user_key=s.user_key, interaction=interaction)
        for s in (seq(x.user_key, *[i.product_id for i in x.interactions], start_ms=now) for x in campers_and_phones())
        for i, interaction in enumerate(s.interactions)
    ]
    store.append(events)
    client.close()
    assert main(["personalize", "build", "--from-events", "--catalog", str(catalog), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["log"] == "event store (REDIS_URL)"
    assert out["shoppers"] == 13 and out["rows"] == len(events) and out["cold_products"] == 2
