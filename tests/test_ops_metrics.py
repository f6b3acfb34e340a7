"""/metrics: counters move as scripted requests go through cache, providers, retries and fallbacks."""

from __future__ import annotations

import threading

import pytest

from service.ops.metrics import Metrics
from service.provider.chain import ProviderChain
from service.provider.openai_compat import OpenAIProvider
from service.provider.retry import RetryPolicy
from tests.support import small_shop
from tests.support.openai_upstream import OpenAIUpstream, reply_fn, status
from tests.support.picks import pick_first_k
from tests.support.prometheus import sample
from tests.support.redis_db import DOWN_REDIS_URL
from tests.support.scripted_provider import ScriptedProvider

BODY = {"query": "gaming laptop"}


def scrape(client) -> str:  # noqa: ANN001
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def test_hit_miss_tokens_and_cost() -> None:
    client = small_shop.app(small_shop.settings(), ScriptedProvider(tokens=(100, 20), model="gpt-4o-mini")).test_client()
    first = client.post("/v1/recommend", json=BODY).json
    assert first["cached"] is False
    assert [(i["id"], i["source"]) for i in first["items"]] == [("p-laptop-1", "llm"), ("p-laptop-2", "llm")]
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
    settings = small_shop.settings(model="house-model", model_prices='{"house-model": [1000, 2000]}')
    client = small_shop.app(settings, ScriptedProvider(tokens=(100, 20), model="house-model")).test_client()
    client.post("/v1/recommend", json=BODY)
    assert sample(scrape(client), "shopguide_llm_cost_usd_total", model="house-model") == pytest.approx(0.14)


def test_retry_through_the_real_openai_provider(upstream: OpenAIUpstream) -> None:
    upstream.script(status(500), reply_fn(pick_first_k, usage={"prompt_tokens": 120, "completion_tokens": 30}))
    settings = small_shop.settings(
        openai_base_url=upstream.base_url, openai_api_key="sk-test-0000000000000000", providers="openai", retries=2,
        retry_max_wait_s=0.5,
    )
    client = small_shop.app(settings).test_client()  # the chain is built from settings
    response = client.post("/v1/recommend", json=BODY)
    assert response.status_code == 200 and response.json["provider"] == "openai"
    assert [i["source"] for i in response.json["items"]] == ["llm", "llm"]  # the model's picks arrived
    assert upstream.calls == 2
    text = scrape(client)
    assert sample(text, "shopguide_llm_retries_total", provider="openai", reason="RetryableProviderError") == 1
    assert sample(text, "shopguide_llm_calls_total", provider="openai", outcome="ok") == 1
    assert sample(text, "shopguide_llm_tokens_total", provider="openai", direction="in") == 120
    assert sample(text, "shopguide_llm_tokens_total", provider="openai", direction="out") == 30


def test_fallback_from_the_real_openai_provider(upstream: OpenAIUpstream) -> None:
    metrics = Metrics()
    upstream.script(status(503, times=3))
    hosted = OpenAIProvider(
        model="gpt-4o-mini", base_url=upstream.base_url, api_key="sk-test-0000000000000000",
        retry=RetryPolicy(retries=0), on_retry=metrics.retry,
    )
    backup = ScriptedProvider(name="backup")
    settings = small_shop.settings()
    client = small_shop.app(settings, chain=ProviderChain([hosted, backup]), metrics=metrics).test_client()
    response = client.post("/v1/recommend", json=BODY)
    assert response.json["provider"] == "backup" and response.json["fallback_from"] == ["openai:RetryableProviderError"]
    assert all(i["source"] == "llm" for i in response.json["items"])  # the backup's picks
    text = scrape(client)
    assert sample(text, "shopguide_fallbacks_total", from_provider="openai", to_provider="backup") == 1
    assert sample(text, "shopguide_llm_calls_total", provider="openai", outcome="RetryableProviderError") == 1
    assert sample(text, "shopguide_llm_calls_total", provider="backup", outcome="ok") == 1
    assert sample(text, "shopguide_llm_retries_total") == 0


def test_degraded_answer_counts_failure() -> None:
    client = small_shop.app(small_shop.settings(), ScriptedProvider(failures=5)).test_client()
    response = client.post("/v1/recommend", json=BODY)
    assert response.json["degraded"] is True
    text = scrape(client)
    assert sample(text, "shopguide_degraded_answers_total", endpoint="recommend") == 1
    assert sample(text, "shopguide_llm_calls_total", provider="fake", outcome="RetryableProviderError") == 1
    assert sample(text, "shopguide_llm_cost_usd_total") == 0


def test_coalesced_requests() -> None:
    provider = ScriptedProvider(delay_s=1.5)  # long enough that all three are in flight together
    app = small_shop.app(small_shop.settings(), provider)
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
    settings = small_shop.settings(redis_url=DOWN_REDIS_URL, rate_limit="off")
    client = small_shop.app(settings, ScriptedProvider()).test_client()
    assert client.post("/v1/recommend", json=BODY).status_code == 200
    assert sample(scrape(client), "shopguide_cache_events_total", outcome="error") >= 1


def test_breaker_and_queue_gauges() -> None:
    metrics = Metrics()
    client = small_shop.app(small_shop.settings(), ScriptedProvider(), metrics=metrics).test_client()
    metrics.breaker_state("openai", True)
    metrics.local_queue(3)
    text = scrape(client)
    assert sample(text, "shopguide_breaker_open", provider="openai") == 1
    assert sample(text, "shopguide_local_queue_depth") == 3
    metrics.breaker_state("openai", False)
    assert sample(scrape(client), "shopguide_breaker_open", provider="openai") == 0


def test_each_app_has_its_own_registry() -> None:
    first = small_shop.app(small_shop.settings(), ScriptedProvider()).test_client()
    second = small_shop.app(small_shop.settings(), ScriptedProvider()).test_client()
    first.post("/v1/recommend", json=BODY)
    assert sample(scrape(second), "shopguide_requests_total", endpoint="/v1/recommend") == 0


def test_status_labels_and_unmatched_routes() -> None:
    client = small_shop.app(small_shop.settings(), ScriptedProvider()).test_client()
    client.post("/v1/recommend", json={"query": ""})
    client.get("/no/such/route")
    text = scrape(client)
    assert sample(text, "shopguide_requests_total", endpoint="/v1/recommend", status="400") == 1
    assert sample(text, "shopguide_requests_total", endpoint="unmatched", status="404") == 1
