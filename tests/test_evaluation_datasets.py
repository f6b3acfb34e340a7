"""Dataset loaders: our JSONL format on tmp files, and the public datasets read in place."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from service.errors import CatalogError, ConfigError
from service.evaluation.datasets import (
    CROWDFLOWER_GRADING,
    HOMEDEPOT_GRADING,
    EvalDataset,
    Grading,
    load_dataset,
    load_jsonl,
    query_id,
    resolve_datasets_dir,
    strip_html,
)
from tests.support.datasets import public_datasets_dir


@pytest.fixture(scope="module")
def datasets_dir() -> Path:
    return public_datasets_dir()


@pytest.fixture(scope="module")
def crowdflower(datasets_dir: Path) -> EvalDataset:
    return load_dataset("crowdflower", datasets_dir=datasets_dir)


@pytest.fixture(scope="module")
def homedepot(datasets_dir: Path) -> EvalDataset:
    return load_dataset("homedepot", datasets_dir=datasets_dir)


def write_lines(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    return write_lines(
        tmp_path / "catalog.jsonl",
        [
            {"id": "p1", "title": "Down jacket", "description": "Warm winter coat"},
            {"id": "p2", "title": "Rain jacket"},
            {"id": "p3", "title": "USB-C charger", "price": 19.9},
        ],
    )


# -- our JSONL format ---------------------------------------------------------------------------
def test_jsonl_loads_queries_and_catalog(tmp_path: Path, catalog_file: Path) -> None:
    queries = write_lines(
        tmp_path / "judged.jsonl",
        [
            {"query": "warm winter jacket", "relevant": {"p1": 3, "p2": 0}},
            "",
            {"qid": 7, "query": " usb charger ", "relevant": {"p3": 1.5}},
        ],
    )
    dataset = load_jsonl(queries, catalog_file)
    assert dataset.name == "judged"
    assert [p.id for p in dataset.products] == ["p1", "p2", "p3"]
    assert len(dataset.catalog) == 3 and dataset.catalog.get("p3").price == 19.9
    first, second = dataset.queries
    assert first.qid == query_id("warm winter jacket") and first.judgments == {"p1": 3.0, "p2": 0.0}
    assert second.qid == "7" and second.text == "usb charger"
    # gain 2**grade - 1, relevant from grade 1
    assert dataset.gains(first) == {"p1": 7.0, "p2": 0.0}
    assert dataset.relevant(first) == {"p1"} and dataset.relevant(second) == {"p3"}


def test_load_dataset_routes_a_path_to_the_jsonl_loader(tmp_path: Path, catalog_file: Path) -> None:
    queries = write_lines(tmp_path / "q.jsonl", [{"query": "charger", "relevant": {"p3": 2}}])
    assert load_dataset(str(queries), catalog=catalog_file).queries[0].judgments == {"p3": 2.0}
    with pytest.raises(ConfigError, match="--catalog"):
        load_dataset(str(queries))
    with pytest.raises(ConfigError, match="neither a known dataset"):
        load_dataset(str(tmp_path / "nope.jsonl"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"query": "x", "relevant": {"p1": 1}', "line 1: bad JSON"),
        ('["x"]', "not a JSON object"),
        ('{"query": "", "relevant": {"p1": 1}}', "'query' must be a non-empty string"),
        ('{"query": "x", "relevant": {}}', "'relevant' must be a non-empty object"),
        ('{"query": "x", "relevant": {"p1": -1}}', "grade of 'p1' must be a number >= 0"),
        ('{"query": "x", "relevant": {"p1": true}}', "grade of 'p1'"),
        ('{"query": "x", "relevant": {"p9": 1, "p1": 2}}', "1 judged product id\\(s\\) not in the catalog: p9"),
        ('{"query": "x", "relevant": {"p1": 1}, "extra": 1}', "unknown field\\(s\\) extra"),
    ],
)
def test_jsonl_rejects_bad_lines_naming_them(tmp_path: Path, catalog_file: Path, line: str, message: str) -> None:
    queries = tmp_path / "bad.jsonl"
    queries.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        load_jsonl(queries, catalog_file)


def test_jsonl_rejects_duplicate_qids_and_empty_files(tmp_path: Path, catalog_file: Path) -> None:
    twice = write_lines(tmp_path / "twice.jsonl", [{"query": "x", "relevant": {"p1": 1}}] * 2)
    with pytest.raises(CatalogError, match=r"line 2: duplicate qid .*\(first on line 1\)"):
        load_jsonl(twice, catalog_file)
    empty = write_lines(tmp_path / "empty.jsonl", [""])
    with pytest.raises(CatalogError, match="no queries"):
        load_jsonl(empty, catalog_file)


# -- helpers --------------------------------------------------------------------------------------
def test_strip_html_drops_tags_styles_and_entities() -> None:
    html = '<table><tr><td><style>.s1 {color: red}</style><p>Twin&nbsp;stroller <b>Sand</b></p></td></tr></table>'
    assert strip_html(html) == "Twin stroller Sand"
    assert strip_html('8" x 8" pillow, size < 10') == '8" x 8" pillow, size < 10'


def test_gradings() -> None:
    assert [CROWDFLOWER_GRADING.gain(g) for g in (1, 2, 3, 4)] == [0, 1, 3, 7]
    assert [HOMEDEPOT_GRADING.gain(g) for g in (1.0, 2.0, 3.0)] == [0, 1, 3]
    assert HOMEDEPOT_GRADING.gain(2.5) == pytest.approx(2**1.5 - 1)
    assert HOMEDEPOT_GRADING.is_relevant(2.5) and not HOMEDEPOT_GRADING.is_relevant(2.33)
    assert CROWDFLOWER_GRADING.is_relevant(3) and not CROWDFLOWER_GRADING.is_relevant(2.5)
    assert Grading(min_grade=0, relevant_at=1).gain(0) == 0


def test_datasets_dir_override(tmp_path: Path) -> None:
    assert resolve_datasets_dir(tmp_path) == tmp_path
    assert resolve_datasets_dir(tmp_path / "..") == tmp_path / ".."
    with pytest.raises(ConfigError, match="--datasets-dir: datasets directory not found"):
        resolve_datasets_dir(tmp_path / "missing")
    with pytest.raises(CatalogError, match="dataset file not found"):
        load_dataset("crowdflower", datasets_dir=tmp_path)


def test_default_is_the_nearest_shared_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import service.evaluation.datasets as datasets

    repo = tmp_path / "wt" / "name"
    repo.mkdir(parents=True)
    monkeypatch.setattr(datasets, "REPO_ROOT", repo)
    with pytest.raises(ConfigError, match="set SHOPGUIDE_DATASETS_DIR or --datasets-dir"):
        resolve_datasets_dir()
    (tmp_path / "shared" / "datasets").mkdir(parents=True)
    assert resolve_datasets_dir() == tmp_path / "shared" / "datasets"


# -- the public datasets ----------------------------------------------------------------------------
def test_crowdflower_counts_and_ids(crowdflower: EvalDataset) -> None:
    assert crowdflower.name == "crowdflower"
    assert len(crowdflower.products) == 9913  # distinct (title, description), as the README counts
    assert len(crowdflower.queries) == 261
    ids = [p.id for p in crowdflower.products]
    assert len(set(ids)) == len(ids) and all(i.startswith("cf-") for i in ids)
    # 10,158 rows minus 145 repeated (query, title, description) triples
    assert sum(len(q.judgments) for q in crowdflower.queries) == 10158 - 145
    assert all(1 <= g <= 4 for q in crowdflower.queries for g in q.judgments.values())
    assert len({q.qid for q in crowdflower.queries}) == 261


def test_crowdflower_known_row_and_clean_descriptions(crowdflower: EvalDataset) -> None:
    pid = "cf-" + hashlib.sha1("ViewSonic Pro8200 DLP Multimedia Projector\x1f".encode()).hexdigest()[:12]
    product = crowdflower.catalog.get(pid)
    assert product is not None and product.description == ""
    projector = next(q for q in crowdflower.queries if q.text == "projector")
    assert projector.judgments[pid] == 4
    assert not any("<p>" in p.description or "<table" in p.description for p in crowdflower.products)
    assert not any("&nbsp;" in p.description for p in crowdflower.products)


def test_homedepot_counts_ids_and_encoding(homedepot: EvalDataset) -> None:
    assert len(homedepot.queries) == 11795
    # 54,667 uids; uids sharing an identical title are one product
    assert len(homedepot.products) == 53474
    assert all(p.description == "" for p in homedepot.products)
    angle = homedepot.catalog.get("hd-100001")
    assert angle is not None and angle.title == "Simpson Strong-Tie 12-Gauge Angle"
    assert homedepot.catalog.get("hd-100664") is None  # same title as uid 100001: merged into it
    by_text = {q.text: q for q in homedepot.queries}
    # "angle bracket" judged both uids (3 and 2.67): one product, the mean grade
    assert by_text["angle bracket"].judgments["hd-100001"] == pytest.approx((3 + 2.67) / 2)
    assert by_text["l bracket"].judgments["hd-100001"] == 2.5
    assert all(1.0 <= g <= 3.0 for q in homedepot.queries for g in q.judgments.values())
    # ISO-8859-1 decoding keeps the file's bytes as characters instead of failing
    assert any("\u00e5" in p.title for p in homedepot.products)
    assert len({p.title for p in homedepot.products}) == len(homedepot.products)
