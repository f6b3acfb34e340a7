"""Providers by name: the registry's register/get shape, what it knows of each kind, and the chain it builds."""

from __future__ import annotations

import pytest

from service.errors import ConfigError
from service.ops.metrics import Metrics
from service.provider.openai_compat import OpenAIProvider
from service.provider.registry import LOCAL, OPENAI, ProviderRegistry, UnknownProvider, build_chain, provider_registry
from service.settings import load_settings


class Named:
    def __init__(self, name: str) -> None:
        self.name = name

    def complete(self, request):  # pragma: no cover - never called here
        raise NotImplementedError

    def describe(self):
        return {"name": self.name}


def test_register_and_get_by_name():
    registry = ProviderRegistry()
    registry.register("house", lambda settings, metrics: Named("house"), reserve_s=2.5)
    kind = registry.get("house")
    assert kind.name == "house" and kind.reserve_s == 2.5 and kind.in_process is False
    assert kind.build(load_settings(), Metrics()).name == "house"
    assert registry.names() == ["house"]
    with pytest.raises(ConfigError, match="twice"):
        registry.register("house", lambda settings, metrics: Named("house"))


def test_an_unknown_name_is_a_clear_config_error_listing_the_known_ones():
    registry = provider_registry(load_settings())
    with pytest.raises(UnknownProvider, match=r"unknown provider 'ollama'; known: local, openai") as err:
        registry.get("ollama")
    assert isinstance(err.value, ConfigError)


def test_built_in_and_extra_providers_with_what_the_chain_and_server_need(upstream):
    settings = load_settings(
        local_reserve_s=7.0,
        extra_providers={"vllm": {"base_url": upstream.base_url, "model": "qwen", "reserve_s": 1.5}},
    )
    registry = provider_registry(settings)
    assert registry.names() == [OPENAI, LOCAL, "vllm"]
    assert registry.get(LOCAL).reserve_s == 7.0 and registry.get(LOCAL).in_process
    assert registry.get("vllm").reserve_s == 1.5 and not registry.get("vllm").in_process
    assert registry.any_in_process(["openai", "local"]) and not registry.any_in_process(["openai", "vllm"])
    vllm = registry.get("vllm").build(settings, Metrics())
    assert isinstance(vllm, OpenAIProvider) and vllm.name == "vllm" and vllm.model == "qwen"


def test_the_chain_takes_each_kinds_reserve_and_a_breaker_per_provider(upstream):
    settings = load_settings(
        openai_base_url=upstream.base_url,
        providers="vllm,openai",
        extra_providers={"vllm": {"base_url": upstream.base_url, "model": "qwen", "reserve_s": 1.5}},
    )
    chain = build_chain(settings, Metrics())
    assert [link.provider.name for link in chain.links] == ["vllm", "openai"]
    assert [link.reserve_s for link in chain.links] == [1.5, 0.0]
    assert all(link.breaker is not None for link in chain.links)
    assert chain.primary == "vllm" and not chain.wants_compact  # no provider here wants the compact form
