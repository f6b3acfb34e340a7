"""The retrievals ``shopguide eval`` can measure, by name, built from the settings.

* ``bm25-baseline``: plain bm25s over title + description (the reference, :mod:`.baselines`).
* ``bm25``: shopguide's field-weighted BM25 (:class:`~service.retrieve.lexical.LexicalIndex`).
* ``dense``: cosine similarity of the packaged MiniLM embeddings alone.
* ``hybrid``: BM25 and dense, weighted-sum fusion with the settings' alpha and floor (what
  ``SHOPGUIDE_RETRIEVAL=hybrid`` serves).
* ``hybrid-rrf``: the same two, reciprocal-rank fusion (k = 60), for comparison.
* ``pipeline``: the whole recommend pipeline (``SHOPGUIDE_RETRIEVAL``'s retrieval, then the
  configured provider chain's picks): see :mod:`.pipeline`.

Indexes and embeddings are persisted under ``SHOPGUIDE_INDEX_DIR`` keyed by the catalog's content
hash, like the service's, so a second run skips the embedding step.
"""

from __future__ import annotations

from service.catalog.load import Catalog
from service.evaluation.baselines import baseline_factories
from service.evaluation.pipeline import PIPELINE, PipelineStats, pipeline_factory
from service.evaluation.runner import EvalRetriever, RetrieverFactory
from service.retrieve.dense import Embedder
from service.retrieve.factory import build_embedder, build_hybrid, build_lexical, hybrid_params
from service.retrieve.hybrid import HybridParams
from service.retrieve.lexical import LexicalIndex
from service.settings import Settings

DENSE_ONLY = HybridParams(alpha=0.0, dense_floor=0.0)


class _Shared:
    """One lexical index per catalog and one embedder for every retrieval of a run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lexical: dict[str, LexicalIndex] = {}
        self._embedder: Embedder | None = None

    def lexical(self, catalog: Catalog) -> LexicalIndex:
        if catalog.version not in self._lexical:
            self._lexical[catalog.version] = build_lexical(catalog, self.settings)
        return self._lexical[catalog.version]

    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = build_embedder(self.settings)
        return self._embedder

    def hybrid(self, params: HybridParams) -> RetrieverFactory:
        def factory(catalog: Catalog) -> EvalRetriever:
            return build_hybrid(
                catalog, self.settings, lexical=self.lexical(catalog), embedder=self.embedder(), params=params
            )

        return factory


def retrieval_factories(settings: Settings, stats: PipelineStats | None = None) -> dict[str, RetrieverFactory]:
    """Retrieval name -> factory(catalog), in the order ``shopguide eval`` reports them.

    ``stats`` receives what the provider chain did when ``pipeline`` runs.
    """
    shared = _Shared(settings)
    tuned = hybrid_params(settings)
    served = shared.lexical if settings.retrieval == "bm25" else shared.hybrid(tuned)
    return {
        **baseline_factories(),
        "bm25": shared.lexical,
        "dense": shared.hybrid(DENSE_ONLY),
        "hybrid": shared.hybrid(tuned),
        "hybrid-rrf": shared.hybrid(HybridParams(alpha=tuned.alpha, dense_floor=tuned.dense_floor, fusion="rrf")),
        PIPELINE: pipeline_factory(settings, served, stats or PipelineStats()),
    }
