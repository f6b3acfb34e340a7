"""Persistence of the learned parts: a round trip gives the same answers, the key follows the data, a
corrupt directory is rebuilt; the factory the app calls and the interaction log it can learn from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.errors import CatalogError
from service.personalize.blend import Blend
from service.personalize.contract import ShopperSequence
from service.personalize.factory import build_blend, build_recommender
from service.personalize.logfile import LogFile, parse_timestamp, user_key
from service.personalize.refresh import Refreshing
from service.settings import load_settings
from tests.support.shoppers import campers_and_phones, catalog, history, lexical, seq, write_catalog, write_log


def model_dirs(index_dir: Path, kind: str) -> list[Path]:
    return sorted(p for p in index_dir.iterdir() if p.name.startswith(f"{kind}-"))


def test_a_persisted_model_loads_and_answers_the_same(tmp_path: Path) -> None:
    settings = load_settings(index_dir=str(tmp_path))
    built = build_blend(settings, catalog(), campers_and_phones(), lexical=lexical())
    [model_dir] = model_dirs(tmp_path, "personalize")
    [content_dir] = model_dirs(tmp_path, "content")
    assert built.version == model_dir.name
    stamp = (model_dir / "item2item.npz").stat().st_mtime_ns
    loaded = build_blend(settings, catalog(), campers_and_phones(), lexical=lexical())
    assert (model_dir / "item2item.npz").stat().st_mtime_ns == stamp  # loaded, not rebuilt
    assert loaded.version == built.version
    assert (loaded.item2item.similarity != built.item2item.similarity).nnz == 0
    assert (loaded.content.similarity != built.content.similarity).nnz == 0
    assert np.array_equal(loaded.popularity.popular, built.popularity.popular)
    for h in (history("tent"), history("mat", "phone"), []):
        assert loaded.for_you(h, 5) == built.for_you(h, 5)
    assert content_dir.is_dir()


def test_new_data_makes_a_new_model_and_keeps_the_content(tmp_path: Path) -> None:
    settings = load_settings(index_dir=str(tmp_path))
    first = build_blend(settings, catalog(), campers_and_phones(), lexical=lexical())
    more = build_blend(settings, catalog(), [*campers_and_phones(), seq("new", "mug", "tent")], lexical=lexical())
    assert first.version != more.version
    assert len(model_dirs(tmp_path, "personalize")) == 2 and len(model_dirs(tmp_path, "content")) == 1


def test_a_corrupt_model_is_rebuilt(tmp_path: Path) -> None:
    settings = load_settings(index_dir=str(tmp_path))
    built = build_blend(settings, catalog(), campers_and_phones(), lexical=lexical())
    [model_dir] = model_dirs(tmp_path, "personalize")
    (model_dir / "item2item.npz").write_bytes(b"not a matrix")
    again = build_blend(settings, catalog(), campers_and_phones(), lexical=lexical())
    assert again.for_you(history("tent"), 3) == built.for_you(history("tent"), 3)
    assert (model_dir / "item2item.npz").read_bytes() != b"not a matrix"


def test_the_factory_learns_from_the_log_setting(tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.jsonl", campers_and_phones())
    settings = load_settings(index_dir=str(tmp_path / "index"), personalize_log=str(log))
    recommender = build_recommender(settings, catalog(), lexical=lexical())
    assert isinstance(recommender, Blend)  # a file does not change under a running worker: no rebuilds
    assert [a.product_id for a in recommender.for_you(history("tent"), 1)] == ["bag"]


class Store:
    """A SequenceSource standing in for the event store: can be down, can grow."""

    def __init__(self, sequences: list[ShopperSequence]) -> None:
        self.items = sequences
        self.down = False

    def sequences(self) -> list[ShopperSequence]:
        if self.down:
            raise ConnectionError("redis down")
        return list(self.items)


def test_the_factory_with_a_live_source_rebuilds_and_survives_it_being_down(tmp_path: Path) -> None:
    settings = load_settings(index_dir=str(tmp_path), personalize_rebuild_events=1, personalize_rebuild_min_s=1)
    store = Store([])
    store.down = True
    recommender = build_recommender(settings, catalog(), store, lexical=lexical())
    assert isinstance(recommender, Refreshing)
    assert recommender.for_you([], 3) == []  # nothing learned yet, nothing invented
    store.down = False
    store.items = campers_and_phones()
    recommender.refresh()
    assert [a.product_id for a in recommender.for_you(history("tent"), 1)] == ["bag"]


def test_the_log_file_reads_jsonl_and_csv_and_reports_bad_rows(tmp_path: Path) -> None:
    jsonl = tmp_path / "log.jsonl"
    jsonl.write_text(
        '{"user_id": "alice", "product_id": "tent", "timestamp": 1750000000000, "type": "view"}\n'
        '{"user_id": "alice", "product_id": "bag", "timestamp": "2025-06-15T15:06:40Z"}\n'
        '{"user_id": "", "product_id": "bag", "timestamp": 1}\n'
        '{"user_id": "bob", "product_id": "bag", "timestamp": 1, "type": "love"}\n'
        '{"user_id": "bob", "product_id": "bag", "timestamp": "yesterday"}\n'
        '{"user_id": "bob", "product_id": "bag", "timestamp": 1, "type": "rating"}\n'
        "not json\n",
        encoding="utf-8",
    )
    log = LogFile(jsonl)
    [alice] = log.sequences()
    assert alice.user_key == user_key("alice") and "alice" not in alice.user_key
    assert [i.product_id for i in alice.interactions] == ["tent", "bag"]
    assert [e.split(":")[0] for e in log.errors] == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert "user_id is missing" in log.errors[0] and "'love'" in log.errors[1] and "needs a value" in log.errors[3]
    csv_log = tmp_path / "log.csv"
    csv_log.write_text("user_id,product_id,timestamp,type,value\nu1,tent,5,rating,4\nu1,bag,6,,\n", encoding="utf-8")
    [u1] = LogFile(csv_log).sequences()
    assert [(i.product_id, i.type.value, i.value) for i in u1.interactions] == [("tent", "rating", 4.0), ("bag", "purchase", None)]
    empty = tmp_path / "empty.csv"
    empty.write_text("user_id,product_id,timestamp\n,,\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="no usable interaction"):
        LogFile(empty).sequences()


def test_timestamps_are_epoch_ms_or_iso() -> None:
    assert parse_timestamp(1750000000000) == parse_timestamp("1750000000000") == 1750000000000
    assert parse_timestamp("2025-06-15T15:06:40Z") == parse_timestamp("2025-06-15T15:06:40") == 1750000000000
    with pytest.raises(ValueError):
        parse_timestamp(True)


def test_write_catalog_helper_round_trips(tmp_path: Path) -> None:
    from service.catalog.load import load_catalog

    assert [p.id for p in load_catalog(write_catalog(tmp_path / "c.jsonl")).products] == [
        p.id for p in catalog().products
    ]
