"""Builds the retriever the settings ask for, once, at start-up."""

from __future__ import annotations

from service.catalog.load import Catalog
from service.retrieve.base import Retriever
from service.retrieve.dense import Embedder, load_or_build_dense
from service.retrieve.hybrid import HybridParams, HybridRetriever
from service.retrieve.lexical import LexicalIndex, load_or_build
from service.retrieve.tokenize import Analyzer
from service.settings import Settings


def build_lexical(catalog: Catalog, settings: Settings, analyzer: Analyzer | None = None) -> LexicalIndex:
    """The field-weighted BM25 index, loaded from (or built into) ``settings.index_dir``."""
    analyzer = analyzer or Analyzer(cache_dir=settings.index_dir / "jieba")
    # jieba's dictionary would otherwise load (~1 s) on the first Chinese query rather than at start-up
    analyzer.warm_up()
    return load_or_build(catalog, settings.index_dir, analyzer)


def build_embedder(settings: Settings) -> Embedder:
    """The sentence embedder of hybrid retrieval (loaded on first use).

    :raises ConfigError: if the packaged model is missing and ``SHOPGUIDE_DENSE_MODEL`` is unset.
    """
    return Embedder(settings.dense_model, device=settings.dense_device)


def hybrid_params(settings: Settings) -> HybridParams:
    return HybridParams(alpha=settings.hybrid_alpha, dense_floor=settings.hybrid_dense_floor)


def build_hybrid(
    catalog: Catalog,
    settings: Settings,
    *,
    lexical: LexicalIndex | None = None,
    embedder: Embedder | None = None,
    params: HybridParams | None = None,
    show_progress: bool = True,
) -> HybridRetriever:
    """BM25 plus dense embeddings of ``catalog``, both persisted under ``settings.index_dir``."""
    lexical = lexical or build_lexical(catalog, settings)
    embedder = embedder or build_embedder(settings)
    dense = load_or_build_dense(catalog, settings.index_dir, embedder, show_progress=show_progress)
    embedder.warm_up()  # the model, not just the stored vectors, before the first query
    return HybridRetriever(lexical, dense, params or hybrid_params(settings))


def build_retriever(catalog: Catalog, settings: Settings, analyzer: Analyzer | None = None) -> Retriever:
    """The retriever for ``settings.retrieval``, its indexes loaded from (or built into) ``settings.index_dir``.

    Callers pass ``settings.candidates`` as ``n`` to :meth:`Retriever.search`.

    :raises ConfigError: hybrid retrieval without an embedder.
    :raises OSError: if ``settings.index_dir`` cannot be written.
    """
    lexical = build_lexical(catalog, settings, analyzer)
    if settings.retrieval == "bm25":
        return lexical
    return build_hybrid(catalog, settings, lexical=lexical)
