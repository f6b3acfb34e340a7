"""Dense and hybrid retrieval with the real packaged MiniLM embedder over the bilingual fixture catalog."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.catalog.load import load_catalog
from service.errors import ConfigError
from service.retrieve.dense import DenseIndex, Embedder, dense_key, load_or_build_dense
from service.retrieve.factory import build_retriever
from service.retrieve.hybrid import HybridParams, HybridRetriever, uses_dense
from service.retrieve.lexical import LexicalIndex
from service.retrieve.tokenize import Analyzer
from service.settings import load_settings
from service.validate.recommend import Filters

FIXTURE = Path(__file__).parent / "fixtures" / "retrieval_catalog.jsonl"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(FIXTURE)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(device="cpu")


@pytest.fixture(scope="module")
def lexical(catalog) -> LexicalIndex:
    return LexicalIndex.build(catalog, Analyzer())


@pytest.fixture(scope="module")
def dense(catalog, embedder, tmp_path_factory) -> DenseIndex:
    return load_or_build_dense(catalog, tmp_path_factory.mktemp("index"), embedder, show_progress=False)


@pytest.fixture(scope="module")
def hybrid(lexical, dense) -> HybridRetriever:
    return HybridRetriever(lexical, dense)


def ids(candidates) -> list[str]:
    return [c.product.id for c in candidates]


def test_embeddings_are_unit_length_and_one_per_product(dense: DenseIndex, catalog) -> None:
    assert dense.vectors.shape == (len(catalog), 384) and dense.vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(dense.vectors, axis=1), 1.0, atol=1e-4)


def test_dense_finds_what_no_query_word_names(lexical: LexicalIndex, hybrid: HybridRetriever) -> None:
    query = "something to keep me warm when it snows"
    assert not any(c.product.id.endswith("down") for c in lexical.search(query, Filters(), 5))
    top = hybrid.search(query, Filters(in_stock=False), 3)
    assert top, "dense similarity alone should propose products"
    titles = " ".join(c.product.title for c in top).casefold()
    assert "down" in titles or "parka" in titles, titles


def test_keyword_matches_still_lead(hybrid: HybridRetriever) -> None:
    top = hybrid.search("gaming laptop rtx 4090", Filters(in_stock=False), 3)
    assert top[0].product.title.startswith("Legion Pro 7")
    assert "rtx" in [w.casefold() for w in top[0].matched_terms]
    assert all("Laptop" in c.product.title or "笔记本" in c.product.title for c in top[:2])


def test_chinese_queries_are_bm25_alone(lexical: LexicalIndex, hybrid: HybridRetriever) -> None:
    query = "我想买一款适合冬天穿的羽绒服"
    assert not uses_dense(query) and uses_dense("down jacket")
    filters = Filters(in_stock=False)
    expected = lexical.search(query, filters, 5)
    got = hybrid.search(query, filters, 5)
    assert ids(got) == ids(expected) and got[0].product.title.find("羽绒服") >= 0


def test_filters_and_exclusions_hold_on_the_dense_side(hybrid: HybridRetriever) -> None:
    found = hybrid.search("warm winter jacket", Filters(price_max=200, currency="USD"), 20)
    assert found and all(c.product.price is not None and c.product.price <= 200 for c in found)
    assert all(c.product.in_stock for c in found)
    no_rain = hybrid.search("jacket", Filters(in_stock=False, exclude_terms=["rain"]), 20)
    assert no_rain and not any("rain" in c.product.title.casefold() for c in no_rain)


def test_restrict_ids_limits_both_sides(hybrid: HybridRetriever) -> None:
    everything = ids(hybrid.search("warm down jacket", Filters(in_stock=False), 10))
    pool = {"en-down-2", "en-rain-1"}
    assert everything[0] not in pool  # the allow-list must keep out what would otherwise lead
    found = hybrid.search("warm down jacket", Filters(in_stock=False), 10, restrict_ids=pool)
    assert set(ids(found)) == pool


def test_unrelated_query_returns_nothing(hybrid: HybridRetriever) -> None:
    assert hybrid.search("zqxv wvkj", Filters(in_stock=False), 5) == []


def test_search_many_matches_search(hybrid: HybridRetriever) -> None:
    queries = ["power bank", "充电宝", "rain jacket", "power bank"]
    many = hybrid.search_many(queries, Filters(in_stock=False), 4)
    assert [ids(r) for r in many] == [ids(hybrid.search(q, Filters(in_stock=False), 4)) for q in queries]


def test_rrf_fusion_ranks_both_lists(lexical: LexicalIndex, dense: DenseIndex) -> None:
    rrf = HybridRetriever(lexical, dense, HybridParams(fusion="rrf"))
    top = rrf.search("portable charger for my phone", Filters(in_stock=False), 3)
    assert top and "Power Bank" in top[0].product.title


@pytest.mark.parametrize("bad", [{"alpha": 1.5}, {"dense_floor": -2}, {"fusion": "max"}])
def test_params_are_validated(bad: dict) -> None:
    with pytest.raises(ValueError):
        HybridParams(**bad)


def test_query_embeddings_are_cached(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder.encode_queries(["insulated travel mug"])
    calls: list[list[str]] = []
    real = embedder.encode
    monkeypatch.setattr(embedder, "encode", lambda texts, **kw: calls.append(list(texts)) or real(texts, **kw))
    again = embedder.encode_queries(["insulated travel mug", "a brand new query"])
    assert calls == [["a brand new query"]] and again.shape == (2, 384)


def test_embeddings_persist_and_a_corrupt_copy_is_rebuilt(catalog, embedder: Embedder, tmp_path: Path) -> None:
    first = load_or_build_dense(catalog, tmp_path, embedder, show_progress=False)
    where = tmp_path / dense_key(catalog, embedder)
    assert (where / "vectors.npy").is_file()

    class NoEncoding(Embedder):
        def encode(self, texts, **kw):  # type: ignore[override]
            raise AssertionError("a persisted index must load, not re-embed")

    reloaded = load_or_build_dense(catalog, tmp_path, NoEncoding(device="cpu"), show_progress=False)
    assert np.array_equal(reloaded.vectors, first.vectors)

    (where / "vectors.npy").write_bytes(b"not numpy")
    rebuilt = load_or_build_dense(catalog, tmp_path, embedder, show_progress=False)
    assert np.allclose(rebuilt.vectors, first.vectors, atol=1e-5)


def test_factory_builds_hybrid_from_settings(catalog, tmp_path: Path) -> None:
    settings = load_settings(index_dir=tmp_path, retrieval="hybrid", hybrid_alpha=0.6, dense_device="cpu")
    retriever = build_retriever(catalog, settings)
    assert isinstance(retriever, HybridRetriever) and retriever.params.alpha == 0.6
    assert any(p.name.startswith("dense-") for p in tmp_path.iterdir())
    assert retriever.search("down jacket", Filters(), 3)


def test_a_missing_dense_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SHOPGUIDE_DENSE_MODEL"):
        Embedder(tmp_path)


def test_catalog_index_command_prebuilds_what_serve_loads(tmp_path: Path, monkeypatch, capsys) -> None:
    from service.cli import main

    monkeypatch.setenv("SHOPGUIDE_INDEX_DIR", str(tmp_path))
    monkeypatch.setenv("SHOPGUIDE_DENSE_DEVICE", "cpu")
    assert main(["catalog", "index", str(FIXTURE), "--retrieval", "hybrid"]) == 0
    assert "hybrid index for catalog" in capsys.readouterr().out
    built = sorted(p.name.split("-")[0] for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert built == ["dense", "jieba", "lexical"]
    assert main(["catalog", "index", "/nonexistent.jsonl"]) == 2
