from __future__ import annotations

from pathlib import Path

import pytest

from service.catalog.load import load_catalog
from service.errors import ConfigError
from service.retrieve.factory import build_retriever
from service.settings import load_settings
from service.validate.recommend import Filters

FIXTURE = Path(__file__).parent / "fixtures" / "retrieval_catalog.jsonl"


def test_bm25_retriever_is_built_and_persisted(tmp_path: Path) -> None:
    settings = load_settings(index_dir=tmp_path, retrieval="bm25")
    retriever = build_retriever(load_catalog(FIXTURE), settings)
    found = retriever.search("充电宝", Filters(), settings.candidates)
    assert found and found[0].product.id.startswith("zh-pb-")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("lexical-")]
    assert (tmp_path / "jieba" / "jieba.cache").is_file()


def test_hybrid_without_an_embedder_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import service.retrieve.dense as dense

    def missing() -> Path:
        raise ConfigError("SHOPGUIDE_RETRIEVAL=hybrid needs the packaged embedder")

    monkeypatch.setattr(dense, "default_model_dir", missing)
    with pytest.raises(ConfigError, match="SHOPGUIDE_RETRIEVAL"):
        build_retriever(load_catalog(FIXTURE), load_settings(index_dir=tmp_path, retrieval="hybrid"))
