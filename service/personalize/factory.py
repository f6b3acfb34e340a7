"""Builds the recommender once, at start-up: ``build_recommender(settings, catalog, source)``.

The training data is ``source`` (the event store's log) when given, else the interaction log file
``SHOPGUIDE_PERSONALIZE_LOG`` (a shop's history, imported), else nothing: every shopper is then
served from content similarity to their own history, and cold shoppers get nothing until events
arrive. Content similarity and the learned parts persist under ``SHOPGUIDE_INDEX_DIR``
(:mod:`~service.personalize.persist`). With a live source, the model is rebuilt in the background
as events arrive (:mod:`~service.personalize.refresh`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from service.catalog.load import Catalog
from service.personalize.blend import Blend, BlendParams
from service.personalize.content import ContentParams, ContentSimilarity
from service.personalize.contract import Recommender, SequenceSource, ShopperSequence
from service.personalize.cooccur import CooccurParams
from service.personalize.corpus import EventWeights, encode
from service.personalize.logfile import LogFile
from service.personalize.persist import load_or_build_content, load_or_build_model
from service.personalize.popular import PopularParams
from service.personalize.refresh import Refreshing
from service.retrieve.lexical import LexicalIndex
from service.settings import Settings

log = logging.getLogger(__name__)


def build_blend(
    settings: Settings,
    catalog: Catalog,
    sequences: Iterable[ShopperSequence],
    *,
    lexical: LexicalIndex | None = None,
    content: ContentSimilarity | None = None,
    weights: EventWeights | None = None,
    cooccur: CooccurParams | None = None,
    popular: PopularParams | None = None,
    blend: BlendParams | None = None,
) -> Blend:
    """The blend for ``catalog`` learned from ``sequences``, its parts loaded from or saved to the index dir."""
    from service.retrieve.factory import build_lexical  # the retrieval factory reads settings; imported late

    weights = weights or EventWeights()
    if content is None:
        lexical = lexical or build_lexical(catalog, settings)
        content = load_or_build_content(settings.index_dir, catalog, lexical, ContentParams())
    position_of = {p.id: i for i, p in enumerate(catalog.products)}
    started = time.perf_counter()
    corpus = encode(sequences, position_of, len(catalog), weights)
    item2item, popularity, key = load_or_build_model(settings.index_dir, catalog, corpus, cooccur, popular)
    log.info(
        "personalization model %s: %d shoppers, %d steps, %.2f s",
        key,
        corpus.shoppers,
        corpus.steps,
        time.perf_counter() - started,
    )
    return Blend(catalog, item2item, content, popularity, blend, weights, version=key)


def build_recommender(
    settings: Settings,
    catalog: Catalog,
    source: SequenceSource | None = None,
    *,
    lexical: LexicalIndex | None = None,
) -> Recommender:
    """The recommender the app serves. Call once per process; the result is safe to share between threads.

    ``source``: the event store's log (rebuilt from as events arrive); None = ``SHOPGUIDE_PERSONALIZE_LOG``
    or no training data. ``lexical``: the retrieval index, when the caller already has it.
    A source that cannot be read at start-up (Redis down) leaves the model empty rather than the
    service down: it is rebuilt once events arrive.
    """
    from service.retrieve.factory import build_lexical

    lexical = lexical or build_lexical(catalog, settings)
    content = load_or_build_content(settings.index_dir, catalog, lexical, ContentParams())
    live = source is not None
    if source is None and settings.personalize_log is not None:
        source = LogFile(settings.personalize_log)

    def build() -> Blend:
        return build_blend(settings, catalog, source.sequences() if source is not None else (), content=content)

    try:
        model = build()
    except Exception as exc:  # noqa: BLE001 - any store failure: serve without learned parts, rebuild later
        if not live:
            raise
        log.error("personalization: could not read the event log (%s); starting without a learned model", exc)
        model = build_blend(settings, catalog, (), content=content)
    if live and settings.personalize_rebuild_events > 0:
        return Refreshing(
            model,
            build,
            rebuild_events=settings.personalize_rebuild_events,
            min_interval_s=settings.personalize_rebuild_min_s,
        )
    return model
