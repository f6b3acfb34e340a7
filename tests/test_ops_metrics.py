"""/metrics: counters move as scripted requests go through cache, providers, retries and fallbacks."""

from __future__ import annotations

import threading

import pytest

from service.ops.cost import PriceTable
from service.ops.metrics import Metrics
from service.provider.chain import ProviderChain
from service.provider.openai_compat import OpenAIProvider
from service.provider.retry import RetryPolicy
from tests import ops_support
from tests.ops_support import ScriptedProvider, Upstream, sample

BODY = {"query": "gaming laptop"}


def scrape(client) -> str:  # noqa: ANN001
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def test_hit_miss_tokens_and_cost() -> None:
    client = ops_support.app(ops_support.settings(), ScriptedProvider(tokens=(100, 20), model="gpt-4o-mini")).test_client()
    assert client.post("/v1/recommend", json=BODY).json["cached"] is False
    assert client.post("/v1/recommend", json=BODY).json["cached"] is True
    text = scrape(client)
    assert sample(text, "shopguide_cache_events_total", outcome="miss") == 1
    assert sample(text, "shopguide_cache_events_total", outcome="hit") == 1
    assert sample(text, "shopguide_requests_total", endpoint="/v1/recommend", status="200") == 2
    assert sample(text, "shopguide_request_latency_seconds_count", endpoint="/v1/recommend") == 2
    assert sample(text, "shopguide_llm_calls_total", provider="fake", model="gpt-4o-mini", outcome="ok") == 1
    assert sample(text, "shopguide_llm_tokens_total", provider="fake", direction="in") == 100
    assert sample(text, "shopguide_llm_tokens_total", provider="fake", direction="out") == 20
    # gpt-4o-mini at 0.15 / 0.60 USD per 1M tokens; the cache hit cost nothing.
    assert sample(text, "shopguide_llm_cost_usd_total", model="gpt-4o-mini") == pytest.approx(
        (100 * 0.15 + 20 * 0.60) / 1e6
    )


def test_prices_from_settings() -> None:
    settings = ops_support.settings(model="house-model", model_prices='{"house-model": [1000, 2000]}')
    client = ops_support.app(settings, ScriptedProvider(tokens=(100, 20), model="house-model")).test_client()
    client.post("/v1/recommend", json=BODY)
    assert sample(scrape(client), "shopguide_llm_cost_usd_total", model="house-model") == pytest.approx(0.14)


def test_price_table_prefixes() -> None:
    prices = PriceTable({"house": (1.0, 1.0)})
    assert prices.price("gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert prices.price("gpt-4o-2024-08-06") == (2.50, 10.00)
    assert prices.price("openai/gpt-4.1-mini") == (0.40, 1.60)
    assert prices.price("house") == (1.0, 1.0)
    assert prices.price("SmolLM2-135M-Instruct") is None
    assert prices.cost("unknown", 1000, 1000) is None


def test_retry_through_the_real_openai_provider() -> None:
    with Upstream(script=[500, "ok"], usage=(120, 30)) as upstream:
        settings = ops_support.settings(
            openai_base_url=upstream.url, openai_api_key="sk-test-0000000000000000", providers="openai", retries=2,
            retry_max_wait_s=0.5,
        )
        client = ops_support.app(settings).test_client()  # the chain is built from settings
        response = client.post("/v1/recommend", json=BODY)
        assert response.status_code == 200 and response.json["provider"] == "openai"
        assert len(upstream.received) == 2
        text = scrape(client)
    assert sample(text, "shopguide_llm_retries_total", provider="openai", reason="RetryableProviderError") == 1
    assert sample(text, "shopguide_llm_calls_total", provider="openai", outcome="ok") == 1
    assert sample(text, "shopguide_llm_tokens_total", provider="openai", direction="in") == 120
    assert sample(text, "shopguide_llm_tokens_total", provider="openai", direction="out") == 30


def test_fallback_from_the_real_openai_provider() -> None:
    metrics = Metrics()
    with Upstream(script=[503, 503, 503]) as upstream:
        hosted = OpenAIProvider(
            model="gpt-4o-mini", base_url=upstream.url, api_key="sk-test-0000000000000000",
            retry=RetryPolicy(retries=0), on_retry=metrics.retry,
        )
        backup = ScriptedProvider(name="backup")
        settings = ops_support.settings()
        client = ops_support.app(settings, chain=ProviderChain([hosted, backup]), metrics=metrics).test_client()
        response = client.post("/v1/recommend", json=BODY)
    assert response.json["provider"] == "backup" and response.json["fallback_from"] == ["openai:RetryableProviderError"]
    text = scrape(client)
    assert sample(text, "shopguide_fallbacks_total", from_provider="openai", to_provider="backup") == 1
    assert sample(text, "shopguide_llm_calls_total", provider="openai", outcome="RetryableProviderError") == 1
    assert sample(text, "shopguide_llm_calls_total", provider="backup", outcome="ok") == 1
    assert sample(text, "shopguide_llm_retries_total") == 0


def test_degraded_answer_counts_failure() -> None:
    client = ops_support.app(ops_support.settings(), ScriptedProvider(failures=5)).test_client()
    response = client.post("/v1/recommend", json=BODY)
    assert response.json["degraded"] is True
    text = scrape(client)
    assert sample(text, "shopguide_degraded_answers_total", endpoint="recommend") == 1
    assert sample(text, "shopguide_llm_calls_total", provider="fake", outcome="RetryableProviderError") == 1
    assert sample(text, "shopguide_llm_cost_usd_total") == 0


def test_coalesced_requests() -> None:
    provider = ScriptedProvider(delay_s=1.5)  # long enough that all three are in flight together
    app = ops_support.app(ops_support.settings(), provider)
    results = []

    def ask() -> None:
        results.append(app.test_client().post("/v1/recommend", json=BODY).status_code)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200, 200, 200]
    assert len(provider.requests) == 1
    assert sample(scrape(app.test_client()), "shopguide_coalesced_requests_total") == 2


def test_cache_errors_are_counted() -> None:
    settings = ops_support.settings(redis_url="redis://127.0.0.1:1/0", rate_limit="off")
    client = ops_support.app(settings, ScriptedProvider()).test_client()
    assert client.post("/v1/recommend", json=BODY).status_code == 200
    assert sample(scrape(client), "shopguide_cache_events_total", outcome="error") >= 1


def test_breaker_and_queue_gauges() -> None:
    metrics = Metrics()
    client = ops_support.app(ops_support.settings(), ScriptedProvider(), metrics=metrics).test_client()
    metrics.breaker_state("openai", True)
    metrics.local_queue(3)
    text = scrape(client)
    assert sample(text, "shopguide_breaker_open", provider="openai") == 1
    assert sample(text, "shopguide_local_queue_depth") == 3
    metrics.breaker_state("openai", False)
    assert sample(scrape(client), "shopguide_breaker_open", provider="openai") == 0


def test_each_app_has_its_own_registry() -> None:
    first = ops_support.app(ops_support.settings(), ScriptedProvider()).test_client()
    second = ops_support.app(ops_support.settings(), ScriptedProvider()).test_client()
    first.post("/v1/recommend", json=BODY)
    assert sample(scrape(second), "shopguide_requests_total", endpoint="/v1/recommend") == 0


def test_status_labels_and_unmatched_routes() -> None:
    client = ops_support.app(ops_support.settings(), ScriptedProvider()).test_client()
    client.post("/v1/recommend", json={"query": ""})
    client.get("/no/such/route")
    text = scrape(client)
    assert sample(text, "shopguide_requests_total", endpoint="/v1/recommend", status="400") == 1
    assert sample(text, "shopguide_requests_total", endpoint="unmatched", status="404") == 1
