"""The copy pipeline for bulk work (``shopguide copy``, ``shopguide worker``), built from settings."""

from __future__ import annotations

from service.cache.singleflight import SingleFlight
from service.cache.store import AnswerCache, MemoryCache, RedisCache, redis_client
from service.catalog.load import Catalog
from service.copywriting.compliance import primary_language
from service.ops.metrics import Metrics
from service.pipeline.copy import CopyPipeline
from service.prompt.render import PromptRenderer
from service.provider.chain import ProviderChain
from service.settings import Settings


def copy_extra_terms(settings: Settings) -> dict[str, tuple[str, ...]]:
    """``SHOPGUIDE_COPY_EXTRA_BANNED[_<LANG>]`` as the copy checks take them: ``{"*": every language, "zh": ...}``
    (``_ZH`` and ``_ZH_CN`` both add to ``zh``)."""
    out: dict[str, tuple[str, ...]] = {"*": settings.copy_extra_banned} if settings.copy_extra_banned else {}
    for tag, terms in sorted(settings.copy_extra_banned_languages.items()):
        if terms:
            key = primary_language(tag)
            out[key] = out.get(key, ()) + terms
    return out


def bulk_pipeline(settings: Settings, catalog: Catalog, chain: ProviderChain, metrics: Metrics) -> CopyPipeline:
    """A copy pipeline sharing the API's answer cache (Redis when ``REDIS_URL`` is set), with the given chain."""
    client = redis_client(settings.redis_url) if settings.redis_url else None
    cache: AnswerCache = (
        RedisCache(client, events=metrics) if client else MemoryCache(settings.cache_max_entries, events=metrics)
    )
    return CopyPipeline(
        settings=settings,
        catalog=catalog,
        renderer=PromptRenderer(settings.prompts_dir),
        cache=cache,
        # In-process coalescing only: bulk products are distinct, and a worker killed mid-call must not leave
        # a cross-process lock that makes the worker redoing its chunk wait out the (long) bulk deadline.
        flights=SingleFlight(None),
        chain=chain,
        metrics=metrics,
        extra_terms=copy_extra_terms(settings),
    )
