"""Builds the retriever the settings ask for, once, at start-up."""

from __future__ import annotations

from service.catalog.load import Catalog
from service.errors import ConfigError
from service.retrieve.base import Retriever
from service.retrieve.lexical import load_or_build
from service.retrieve.tokenize import Analyzer
from service.settings import Settings


def build_retriever(catalog: Catalog, settings: Settings, analyzer: Analyzer | None = None) -> Retriever:
    """The retriever for ``settings.retrieval``, its index loaded from (or built into) ``settings.index_dir``.

    Callers pass ``settings.candidates`` as ``n`` to :meth:`Retriever.search`.

    :raises ConfigError: for a retrieval mode that is not available.
    :raises OSError: if ``settings.index_dir`` cannot be written.
    """
    if settings.retrieval == "bm25":
        analyzer = analyzer or Analyzer(cache_dir=settings.index_dir / "jieba")
        # jieba's dictionary would otherwise load (~1 s) on the first Chinese query rather than at start-up
        analyzer.warm_up()
        return load_or_build(catalog, settings.index_dir, analyzer)
    # Hybrid (dense + BM25 fused) plugs in here: a dense retriever over the same catalog positions,
    # fused with LexicalIndex.score(), masked by the shared FilterMask.
    raise ConfigError(f"SHOPGUIDE_RETRIEVAL={settings.retrieval}: not available yet; use bm25")
