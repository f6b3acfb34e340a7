"""Providers by name, built from settings; the chain is assembled here, once, by the app factory.

The registry has simonw/llm's shape: each kind of provider is registered under its name
(:meth:`ProviderRegistry.register`), looked up with :meth:`ProviderRegistry.get`, which
names the known ones when it does not know a name (:class:`UnknownProvider`). What
differs between providers (the time kept back for them, whether their model runs in
this process, the prompt form they want) is said where they are registered or on the
provider itself, so nothing outside ``service/provider/`` tests a provider's name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis
from pydantic import SecretStr

from service.errors import ConfigError
from service.ops.metrics import Metrics
from service.provider.base import Provider
from service.provider.breaker import BreakerPolicy, BreakerStore, CircuitBreaker, MemoryBreakerStore, RedisBreakerStore
from service.provider.chain import Link, ProviderChain
from service.provider.latency import LatencyEstimate
from service.provider.openai_compat import OpenAIProvider
from service.provider.quality import AnswerQuality
from service.provider.retry import RetryPolicy
from service.settings import ExtraProvider, Settings

log = logging.getLogger(__name__)

OPENAI = "openai"
LOCAL = "local"

Build = Callable[[Settings, Metrics], Provider]


class UnknownProvider(ConfigError):
    """No provider is registered under the name; the message lists those that are."""


@dataclass(frozen=True)
class Registered:
    """One kind of provider: how to build it, and what the chain and the server need to know about it."""

    name: str
    build: Build
    reserve_s: float = 0.0  # the time earlier providers keep back for this one (see ProviderChain)
    # Its model runs inside this process: loaded once per worker (memory) and competing for the
    # worker's cores; the server sizes its workers by it (service.ops.gunicorn).
    in_process: bool = False


class ProviderRegistry:
    """Provider kinds by name."""

    def __init__(self) -> None:
        self._kinds: dict[str, Registered] = {}

    def register(self, name: str, build: Build, *, reserve_s: float = 0.0, in_process: bool = False) -> None:
        """Make ``name`` buildable.

        :raises ConfigError: when ``name`` is taken.
        """
        if name in self._kinds:
            raise ConfigError(f"provider {name!r} is registered twice")
        self._kinds[name] = Registered(name, build, reserve_s, in_process)

    def get(self, name: str) -> Registered:
        """The kind registered as ``name``.

        :raises UnknownProvider: naming the known providers.
        """
        try:
            return self._kinds[name]
        except KeyError:
            raise UnknownProvider(f"unknown provider {name!r}; known: {', '.join(sorted(self._kinds))}") from None

    def names(self) -> list[str]:
        return list(self._kinds)

    def any_in_process(self, names: Iterable[str]) -> bool:
        """Whether any of ``names`` runs its model inside this process."""
        return any(self.get(name).in_process for name in names)


def _compatible(
    name: str, model: str, api_key: SecretStr | None, base_url: str | None, timeout_s: float,
    response_format: str, settings: Settings, metrics: Metrics, endpoint_models: dict[str, str] | None = None,
) -> Provider:
    """An OpenAI-compatible provider; retries and the max-tokens parameter come from the settings."""
    return OpenAIProvider(
        name=name,
        model=model,
        api_key=api_key.get_secret_value() if api_key else None,
        base_url=base_url,
        timeout_s=timeout_s,
        retry=RetryPolicy.from_settings(settings),
        response_format=response_format,
        max_tokens_param=settings.max_tokens_param,
        on_retry=metrics.retry,
        endpoint_models=endpoint_models,
    )


def _openai(settings: Settings, metrics: Metrics) -> Provider:
    # SHOPGUIDE_RECOMMEND_MODEL / SHOPGUIDE_COPY_MODEL name models of this server, not of the extra ones.
    overrides = {"recommend": settings.recommend_model, "copy": settings.copy_model}
    return _compatible(
        OPENAI, settings.model, settings.openai_api_key, settings.openai_base_url, settings.timeout_s,
        settings.response_format, settings, metrics, {k: v for k, v in overrides.items() if v},
    )


def _extra(name: str, spec: ExtraProvider) -> Build:
    def build(settings: Settings, metrics: Metrics) -> Provider:
        provider = _compatible(
            name, spec.model, spec.api_key, spec.base_url, spec.timeout_s, spec.response_format, settings, metrics
        )
        provider.prompt_style = spec.prompt_style  # type: ignore[attr-defined]
        return provider

    return build


def _local(settings: Settings, metrics: Metrics) -> Provider:
    if settings.local_url is not None:  # the model server (issue 17): started by `shopguide serve`, or elsewhere
        from service.provider.local.model_files import display_name
        from service.provider.model_server import ModelServerProvider, supervisor_state_file

        return ModelServerProvider(
            url=settings.local_url,
            model=display_name(settings.local_model),
            timeout_s=settings.local_request_timeout_s,
            prompt_style=settings.local_prompt_style,
            state_file=supervisor_state_file(settings.local_url),
            max_tokens_param=settings.max_tokens_param,
            on_retry=metrics.retry,
        )
    # In this process (one-shot commands, SHOPGUIDE_LOCAL_SUPERVISE=0). Imported here: torch and
    # transformers are heavy and only needed when the chain has a local model.
    from service.provider.local import LocalProvider

    provider = LocalProvider.from_settings(settings, metrics=metrics)
    provider.prompt_style = settings.local_prompt_style
    return provider


def provider_registry(settings: Settings) -> ProviderRegistry:
    """The built-in providers, and the OpenAI-compatible servers ``SHOPGUIDE_EXTRA_PROVIDERS`` names."""
    registry = ProviderRegistry()
    registry.register(OPENAI, _openai)
    # With a model server (SHOPGUIDE_LOCAL_URL, or the child `shopguide serve` starts) the model is not in the workers.
    registry.register(LOCAL, _local, reserve_s=settings.local_reserve_s, in_process=settings.local_url is None)
    for name, spec in settings.extra_providers.items():
        registry.register(name, _extra(name, spec), reserve_s=spec.reserve_s)
    return registry


def build_chain(settings: Settings, metrics: Metrics, client: redis.Redis | None = None) -> ProviderChain:
    """The providers of ``SHOPGUIDE_PROVIDERS`` in order, each behind a circuit breaker.

    Breaker state lives in Redis when ``client`` is given (shared by every worker), else in this
    process. A provider that cannot be built is left out, loudly.

    :raises UnknownProvider: a name in the chain that no provider is registered under.
    """
    registry = provider_registry(settings)
    store: BreakerStore = RedisBreakerStore(client, settings.cache_prefix) if client else MemoryBreakerStore()
    policy = BreakerPolicy(settings.breaker_failures, settings.breaker_cooldown_s, settings.breaker_max_cooldown_s)
    links: list[Link] = []
    for name in settings.provider_chain:
        kind = registry.get(name)
        try:
            provider = kind.build(settings, metrics)
        except ImportError as exc:
            log.error("provider %s unavailable (missing dependency: %s); install shopguide[local]", name, exc)
            continue
        breaker = CircuitBreaker(name, store, policy, on_change=metrics.breaker_state)
        latency = (
            LatencyEstimate(probe_after_s=settings.latency_probe_s, timeout_memory_s=settings.breaker_cooldown_s)
            if settings.latency_skip
            else None
        )
        links.append(Link(provider, breaker, kind.reserve_s, latency))
    quality = AnswerQuality(settings.invalid_answer_window, settings.invalid_answer_ratio, on_share=metrics.invalid_share)
    return ProviderChain(links, quality, on_call=metrics.provider_call)
