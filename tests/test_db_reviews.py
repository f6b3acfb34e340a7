"""Approved copy in the database: migrations, optimistic versioning, history, export order (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from service.cli import main
from service.db.engine import build_engine, database_url
from service.db.migrate import current, head, upgrade
from service.db.reviews import Conflict, Decision, ReviewStore
from service.settings import load_settings
from tests.support.databases import postgres_database


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReviewStore]:
    if request.param == "sqlite":
        settings = load_settings(data_dir=tmp_path)
    else:
        with postgres_database() as url:
            settings = load_settings(database_url=url)
            engine = build_engine(settings)
            upgrade(engine)
            yield ReviewStore(engine)
            engine.dispose()
        return
    engine = build_engine(settings)
    upgrade(engine)
    yield ReviewStore(engine)
    engine.dispose()


def decision(product_id: str = "SG-1", base: int = 0, *, by: str = "alice", kind: str = "approved", **extra) -> Decision:
    values = dict(
        product_id=product_id, decision=kind, headline="标题", body="正文。第二句。", bullets=["一", "二"], cta="立即购买",
        base_version=base, decided_by=by, title="商品", provider="openai", model="gpt-4o-mini", prompt_version="copy-1",
    )
    values.update(extra)
    return Decision(**values)  # type: ignore[arg-type]


def test_the_sqlite_default_lives_under_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    assert database_url(settings) == f"sqlite:///{tmp_path / 'data' / 'shopguide.db'}"
    engine = build_engine(settings)
    assert current(engine) is None
    assert upgrade(engine) == head()
    assert (tmp_path / "data" / "shopguide.db").is_file()
    assert {"copy_entries", "copy_versions", "alembic_version"} <= set(inspect(engine).get_table_names())
    assert upgrade(engine) == head()  # a second run is a no-op


def test_postgres_urls_use_psycopg(postgres_url: str) -> None:
    settings = load_settings(database_url=postgres_url.replace("postgresql://", "postgres://", 1))
    assert database_url(settings).startswith("postgresql+psycopg://")


def test_a_decision_is_versioned_and_kept_with_its_history(store: ReviewStore) -> None:
    first = store.decide(decision(findings=[{"kind": "unsupported_claim", "text": "48小时"}], override=True,
                                  override_reason="verified with supplier", edited=True))
    assert first["entry"] == {**first["entry"], "status": "approved", "row_version": 1, "current_version": 1}
    second = store.decide(decision(base=1, kind="rejected", by="bob", headline="新标题"))
    assert second["entry"]["row_version"] == 2 and second["entry"]["updated_by"] == "bob"
    history = store.history("SG-1")
    assert [v["number"] for v in history] == [2, 1]
    assert history[1]["override"] and history[1]["override_reason"] == "verified with supplier"
    assert history[1]["findings"] == [{"kind": "unsupported_claim", "text": "48小时"}] and history[1]["edited"]
    assert history[0]["decided_by"] == "bob" and history[0]["bullets"] == ["一", "二"]
    assert history[1]["provider"] == "openai" and history[1]["prompt_version"] == "copy-1"


def test_a_stale_base_version_is_a_conflict_naming_who_decided(store: ReviewStore) -> None:
    store.decide(decision(by="alice"))
    with pytest.raises(Conflict) as err:
        store.decide(decision(base=0, by="bob"))  # bob loaded the product before alice approved it
    assert "alice approved this product" in err.value.message and err.value.field == "base_version"
    store.decide(decision(base=1, by="carol"))
    with pytest.raises(Conflict) as err:
        store.decide(decision(base=1, by="bob"))
    assert "carol" in err.value.message and "you had version 1" in err.value.message
    assert [v["decided_by"] for v in store.history("SG-1")] == ["carol", "alice"]


def test_two_reviewers_racing_on_one_version_one_wins(store: ReviewStore) -> None:
    store.decide(decision())
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def approve(name: str) -> None:
        barrier.wait()
        try:
            store.decide(decision(base=1, by=name))
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=approve, args=(f"r{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "ok"]
    assert store.entry("SG-1")["row_version"] == 2  # type: ignore[index]


def test_approved_lists_current_versions_in_batches(store: ReviewStore) -> None:
    for i in range(7):
        store.decide(decision(f"P{i}", headline=f"h{i}"))
    store.decide(decision("P3", base=1, kind="rejected"))
    store.decide(decision("P5", base=1, headline="h5-v2"))
    rows = list(store.approved(batch=2))
    assert [e["product_id"] for e, _ in rows] == ["P0", "P1", "P2", "P4", "P5", "P6"]
    assert dict((e["product_id"], v["headline"]) for e, v in rows)["P5"] == "h5-v2"
    total, page = store.entries("approved", limit=2)
    assert total == 6 and len(page) == 2
    assert store.states(["P3", "nope"]) == {"P3": store.entry("P3")}


def test_shopguide_db_upgrade_and_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SHOPGUIDE_DATA_DIR", str(tmp_path))
    assert main(["db", "status"]) == 1
    assert "run `shopguide db upgrade`" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert f"empty -> {head()}" in capsys.readouterr().out
    assert main(["db", "status"]) == 0
    assert main(["db", "upgrade"]) == 0
    assert "already at" in capsys.readouterr().out


def test_database_url_password_is_masked_in_the_effective_config(postgres_url: str) -> None:
    from service.ops.config_view import effective_config

    settings = load_settings(database_url="postgresql://shop:hunter2@db.internal:5432/shopguide")
    assert "hunter2" not in str(effective_config(settings)["DATABASE_URL"])


def test_concurrent_sqlite_upgrades_of_one_file_do_not_collide(tmp_path) -> None:
    # gunicorn workers of one server upgrading the same fresh SQLite file at once: one of them failed with
    # "table copy_entries already exists" (seen in the suite); a file lock serializes them now
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import create_engine

    from service.db.migrate import head, upgrade

    url = f"sqlite:///{tmp_path / 'reviews.sqlite'}"
    engines = [create_engine(url) for _ in range(6)]
    with ThreadPoolExecutor(len(engines)) as pool:
        revisions = list(pool.map(upgrade, engines))
    assert set(revisions) == {head()}
