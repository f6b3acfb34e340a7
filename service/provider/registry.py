"""Providers by name, built from settings; the chain is assembled here, once, by the app factory."""

from __future__ import annotations

import logging

import redis
from pydantic import SecretStr

from service.ops.metrics import Metrics
from service.provider.base import Provider
from service.provider.breaker import BreakerPolicy, BreakerStore, CircuitBreaker, MemoryBreakerStore, RedisBreakerStore
from service.provider.chain import Link, ProviderChain
from service.provider.openai_compat import OpenAIProvider
from service.provider.retry import RetryPolicy
from service.settings import ExtraProvider, Settings

log = logging.getLogger(__name__)


def _compatible(
    name: str, model: str, api_key: SecretStr | None, base_url: str | None, timeout_s: float,
    response_format: str, settings: Settings, metrics: Metrics,
) -> Provider:
    """An OpenAI-compatible provider; retries and the max-tokens parameter come from the settings."""
    return OpenAIProvider(
        name=name,
        model=model,
        api_key=api_key.get_secret_value() if api_key else None,
        base_url=base_url,
        timeout_s=timeout_s,
        retry=RetryPolicy(retries=settings.retries, max_wait_s=settings.retry_max_wait_s),
        response_format=response_format,
        max_tokens_param=settings.max_tokens_param,
        on_retry=metrics.retry,
    )


def _openai(settings: Settings, metrics: Metrics) -> Provider:
    return _compatible(
        "openai", settings.model, settings.openai_api_key, settings.openai_base_url, settings.timeout_s,
        settings.response_format, settings, metrics,
    )


def _extra(name: str, spec: ExtraProvider, settings: Settings, metrics: Metrics) -> Provider:
    return _compatible(
        name, spec.model, spec.api_key, spec.base_url, spec.timeout_s, spec.response_format, settings, metrics
    )


def _local(settings: Settings, metrics: Metrics) -> Provider:
    # Imported here: torch and transformers are heavy and only needed when the chain has a local model.
    from service.provider.local import LocalProvider

    return LocalProvider.from_settings(settings, metrics=metrics)


def build_provider(name: str, settings: Settings, metrics: Metrics) -> tuple[Provider, float]:
    """The provider called ``name`` and the time to keep back for it from earlier providers."""
    if name == "openai":
        return _openai(settings, metrics), 0.0
    if name == "local":
        return _local(settings, metrics), settings.local_reserve_s
    spec = settings.extra_providers[name]
    return _extra(name, spec, settings, metrics), spec.reserve_s


def build_chain(settings: Settings, metrics: Metrics, client: redis.Redis | None = None) -> ProviderChain:
    """The providers of ``SHOPGUIDE_PROVIDERS`` in order, each behind a circuit breaker.

    Breaker state lives in Redis when ``client`` is given (shared by every worker), else in this
    process. A provider that cannot be built is left out, loudly.
    """
    store: BreakerStore = RedisBreakerStore(client, settings.cache_prefix) if client else MemoryBreakerStore()
    policy = BreakerPolicy(settings.breaker_failures, settings.breaker_cooldown_s, settings.breaker_max_cooldown_s)
    links: list[Link] = []
    for name in settings.provider_chain:
        try:
            provider, reserve = build_provider(name, settings, metrics)
        except ImportError as exc:
            log.error("provider %s unavailable (missing dependency: %s); install shopguide[local]", name, exc)
            continue
        breaker = CircuitBreaker(name, store, policy, on_change=metrics.breaker_state)
        links.append(Link(provider, breaker, reserve))
    return ProviderChain(links)
