"""``shopguide events import`` and ``shopguide recommend --user``: real Redis, the demo catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.catalog.load import load_catalog
from service.cli import main
from service.events.importer import EventImporter, ImportState, default_state_path
from service.events.ingest import EventIngest
from service.events.keys import UserKeys
from service.events.redis_store import RedisEventStore
from service.events.store import EventStoreUnavailable, MemoryEventStore
from tests.support.openai_upstream import reply_fn
from tests.support.picks import pick_first_k
from tests.support.redis_db import REDIS_URL

TS = 1_796_026_500_000


def jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def row(i: int, **more) -> dict:
    return {"user_id": f"u{i % 7}", "product_id": f"SG-OUT-{1 + i % 20:04d}", "timestamp": TS + i, "type": "view", **more}


@pytest.fixture
def env(monkeypatch, redis_prefix, index_dir):
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("SHOPGUIDE_CACHE_PREFIX", redis_prefix)
    monkeypatch.setenv("SHOPGUIDE_INDEX_DIR", str(index_dir))
    return redis_prefix


def store_of(prefix: str) -> RedisEventStore:
    import redis

    return RedisEventStore(redis.Redis.from_url(REDIS_URL), prefix)


def test_import_jsonl_reports_bad_rows_by_line(env, tmp_path, capsys):
    rows = [row(i) for i in range(30)]
    rows[4] = {**row(4), "product_id": "NOPE"}
    rows[9] = "{not json"
    rows[12] = {**row(12), "type": "wink"}
    path = jsonl(tmp_path / "log.jsonl", rows[:15] + [""] + rows[15:])  # a blank line 16 is skipped
    assert main(["events", "import", str(path), "--batch-size", "7"]) == 0
    out, err = capsys.readouterr()
    assert "27 events stored, 0 already stored, 3 bad rows" in out
    assert "line 5: product_id: unknown product" in err
    assert "line 10: not JSON" in err
    assert "line 13: type:" in err
    assert "importing" not in err  # no progress bar off a terminal
    store = store_of(env)
    assert sum(len(s.interactions) for s in store.sequences()) == 27


def test_import_csv_with_epoch_seconds(env, tmp_path, capsys):
    path = tmp_path / "log.csv"
    path.write_text(
        "user_id,product_id,timestamp,type,value\n"
        "alice,SG-OUT-0001,1796026500,purchase,\n"
        "alice,SG-OUT-0002,1796026600,rating,5\n"
        "bob,SG-OUT-0003,1796026700,rating,9\n"
        "bob,SG-OUT-0003\n"
    )
    assert main(["events", "import", str(path), "--timestamp-unit", "s"]) == 0
    out, err = capsys.readouterr()
    assert "2 events stored" in out and "2 bad rows" in out
    assert "line 4: value: a rating's value must be from 1 to 5" in err
    assert "line 5: 2 columns where the header has 5" in err
    state = store_of(env).state(UserKeys().user("alice"), 10)
    assert [i.timestamp_ms for i in state.history] == [1_796_026_500_000, 1_796_026_600_000]
    assert state.purchased == {"SG-OUT-0001"}


class _FailingAfter(MemoryEventStore):
    """Stores ``ok`` batches, then fails: an import cut short."""

    def __init__(self, ok: int) -> None:
        super().__init__()
        self.ok = ok

    def append(self, events):
        if self.ok == 0:
            raise EventStoreUnavailable("down")
        self.ok -= 1
        return super().append(events)


def test_an_import_cut_short_resumes_where_it_stopped(tmp_path, demo_catalog):
    path = jsonl(tmp_path / "log.jsonl", [row(i) for i in range(100)])
    store = _FailingAfter(ok=3)
    importer = EventImporter(EventIngest(store, demo_catalog, UserKeys()), batch_size=10, retries=1, sleep=lambda s: None)
    with pytest.raises(EventStoreUnavailable):
        importer.run(path)
    saved = ImportState.load(default_state_path(path))
    assert saved is not None and saved.line == 30 and saved.accepted == 30 and not saved.done
    store.ok = 100
    report = importer.run(path)
    assert report.resumed_at == 30 and report.state.done
    assert report.state.accepted == 100 and report.state.duplicates == 0
    assert sum(len(s.interactions) for s in store.sequences()) == 100
    assert importer.run(path).already_done
    again = importer.run(path, restart=True)  # the same rows again: their derived event ids are known
    assert again.state.accepted == 0 and again.state.duplicates == 100


def test_a_changed_file_is_imported_from_the_start(tmp_path, demo_catalog):
    path = jsonl(tmp_path / "log.jsonl", [row(i) for i in range(10)])
    importer = EventImporter(EventIngest(MemoryEventStore(), demo_catalog, UserKeys()), batch_size=4)
    importer.run(path)
    jsonl(path, [row(i) for i in range(12)])
    assert importer.run(path).resumed_at == 0


def test_import_needs_redis(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("REDIS_URL", raising=False)
    path = jsonl(tmp_path / "log.jsonl", [row(0)])
    assert main(["events", "import", str(path)]) == 2
    assert "REDIS_URL" in capsys.readouterr().err


def test_recommend_for_a_user_shows_because(env, tmp_path, capsys, upstream, monkeypatch):
    upstream.default(reply_fn(pick_first_k))
    monkeypatch.setenv("OPENAI_BASE_URL", upstream.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("SHOPGUIDE_PROVIDERS", "openai")
    path = jsonl(tmp_path / "log.jsonl", [{"user_id": "cli-shopper", "product_id": "SG-OUT-0001", "timestamp": TS,
                                             "type": "purchase"}])
    assert main(["events", "import", str(path)]) == 0
    capsys.readouterr()
    assert main(["recommend", "--user", "cli-shopper", "--k", "3", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert "SG-OUT-0001" not in [i["id"] for i in answer["items"]]
    assert any(i["because"] == ["SG-OUT-0001"] for i in answer["items"])
    assert main(["recommend", "--user", "cli-shopper", "--k", "3"]) == 0
    assert "because of: SG-OUT-0001" in capsys.readouterr().out
    assert load_catalog(None).by_id  # the demo catalog served
