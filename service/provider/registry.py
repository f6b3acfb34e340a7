"""Providers by name, built from settings; the chain is assembled here, once, by the app factory."""

from __future__ import annotations

import logging
from collections.abc import Callable

from service.ops.metrics import Metrics
from service.provider.base import Provider
from service.provider.chain import ProviderChain
from service.provider.openai_compat import OpenAIProvider
from service.provider.retry import RetryPolicy
from service.settings import Settings

log = logging.getLogger(__name__)


def _openai(settings: Settings, metrics: Metrics) -> Provider:
    return OpenAIProvider(
        name="openai",
        model=settings.model,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
        base_url=settings.openai_base_url,
        timeout_s=settings.timeout_s,
        retry=RetryPolicy(retries=settings.retries, max_wait_s=settings.retry_max_wait_s),
        response_format=settings.response_format,
        max_tokens_param=settings.max_tokens_param,
        on_retry=metrics.retry,
    )


def _local(settings: Settings, metrics: Metrics) -> Provider:
    # Imported here: torch and transformers are heavy and only needed when the chain has a local model.
    from service.provider.local import LocalProvider

    return LocalProvider.from_settings(settings, metrics=metrics)


FACTORIES: dict[str, Callable[[Settings, Metrics], Provider]] = {"openai": _openai, "local": _local}


def build_chain(settings: Settings, metrics: Metrics) -> ProviderChain:
    """The providers of ``SHOPGUIDE_PROVIDERS`` in order. One that cannot be built is left out, loudly."""
    providers: list[Provider] = []
    for name in settings.provider_chain:
        try:
            providers.append(FACTORIES[name](settings, metrics))
        except ImportError as exc:
            log.error("provider %s unavailable (missing dependency: %s); install shopguide[local]", name, exc)
    return ProviderChain(providers)
