"""Throttled providers against the scripted upstream: 429s wait and do not fail, other errors retry then fail."""

from __future__ import annotations

import threading
import time

import pytest

from service.app import build_dependencies, create_app
from service.bulk.limiter import AdaptiveLimiter
from service.bulk.throttle import ThrottledProvider, throttle, throttled_chain
from service.catalog.load import Catalog
from service.errors import ProviderUnavailable, RetryableProviderError
from service.ops.metrics import Metrics
from service.provider.base import ChatRequest, Completion
from service.provider.breaker import BreakerPolicy, CircuitBreaker, MemoryBreakerStore
from service.provider.chain import Link, ProviderChain
from service.provider.openai_compat import OpenAIProvider
from service.provider.retry import RetryPolicy
from service.settings import load_settings
from tests.support.copy_products import POWER_BANK
from tests.support.openai_upstream import hang, reply, status


def chat(deadline_s: float = 10.0) -> ChatRequest:
    return ChatRequest(
        messages=({"role": "user", "content": "hi"},),
        schema_name="s",
        schema={"type": "object"},
        deadline=time.monotonic() + deadline_s,
    )


def bare(upstream) -> OpenAIProvider:
    return OpenAIProvider(model="m", api_key="k", base_url=upstream.base_url, retry=RetryPolicy(retries=0))


def test_429s_wait_out_retry_after_without_using_the_retry_budget(upstream):
    upstream.script(status(429, retry_after=0.2, times=4), reply({"ok": True}))
    limiter = AdaptiveLimiter(4)
    provider = ThrottledProvider(bare(upstream), limiter)
    t0 = time.monotonic()
    completion = provider.complete(chat())
    assert completion.text == '{"ok": true}' and upstream.calls == 5
    assert time.monotonic() - t0 >= 0.75 and limiter.rate_limited_count == 4 and limiter.in_flight == 0


def test_everyone_pauses_when_one_call_sees_a_429(upstream):
    upstream.default(reply({"ok": True}))
    upstream.script(status(429, retry_after=0.5))
    limiter = AdaptiveLimiter(8)
    provider = ThrottledProvider(bare(upstream), limiter)
    provider.complete(chat())  # the refused call, then its retry after the pause
    first = upstream.chat_requests[0].received_at
    threads = [threading.Thread(target=provider.complete, args=(chat(),)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.received_at - first >= 0.45 for r in upstream.chat_requests[1:])


def test_other_transient_errors_retry_on_the_service_schedule_then_fail(upstream):
    upstream.default(status(503))
    waits: list[float] = []
    policy = RetryPolicy(retries=2, initial_wait_s=0.2, max_wait_s=8.0, jitter_s=0.0)
    limiter = AdaptiveLimiter(2)
    provider = ThrottledProvider(bare(upstream), limiter, retry=policy, sleep=waits.append)
    with pytest.raises(RetryableProviderError):
        provider.complete(chat())
    assert upstream.calls == 3 and limiter.in_flight == 0
    assert waits == [0.2, 0.4]  # RetryPolicy's exponential schedule, the one the API's calls retry on


def test_a_retry_after_on_a_5xx_is_honoured_like_the_api_does(upstream):
    upstream.script(status(503, retry_after=1.5), reply({"ok": True}))
    waits: list[float] = []
    provider = ThrottledProvider(bare(upstream), AdaptiveLimiter(2), retry=RetryPolicy(retries=1), sleep=waits.append)
    assert provider.complete(chat()).text == '{"ok": true}'
    assert waits == [1.5]


def test_no_retry_is_started_that_would_end_past_the_deadline(upstream):
    upstream.default(status(503))
    waits: list[float] = []
    provider = ThrottledProvider(
        bare(upstream), AdaptiveLimiter(2), retry=RetryPolicy(retries=5, initial_wait_s=2.0), sleep=waits.append
    )
    with pytest.raises(RetryableProviderError):
        provider.complete(chat(deadline_s=1.0))
    assert upstream.calls == 1 and waits == []


def test_deadline_and_stop_while_paused(upstream):
    upstream.default(status(429, retry_after=5))
    stop = threading.Event()
    provider = ThrottledProvider(bare(upstream), AdaptiveLimiter(2), stop=stop)
    t0 = time.monotonic()
    with pytest.raises(RetryableProviderError):  # the last 429, once the deadline passes mid-pause
        provider.complete(chat(deadline_s=0.5))
    assert time.monotonic() - t0 < 2
    stop.set()
    with pytest.raises(ProviderUnavailable, match="stopped"):
        ThrottledProvider(bare(upstream), AdaptiveLimiter(2), stop=stop).complete(chat())


def test_throttled_chain_keeps_the_fingerprint(upstream):
    settings = load_settings(openai_base_url=upstream.base_url, openai_api_key="k", providers="openai")
    from service.provider.registry import build_chain

    plain = build_chain(settings, Metrics())
    throttled = throttled_chain(settings, Metrics(), AdaptiveLimiter(4))
    assert throttled.fingerprint("copy") == plain.fingerprint("copy")  # bulk and API share cached answers
    assert all(isinstance(p, ThrottledProvider) for p in throttled.providers)
    assert all(link.breaker is not None for link in throttled.links)  # each provider keeps its breaker


class StandIn:
    """A fallback that answers at once and records how much of the deadline it was left."""

    name = "standin"

    def __init__(self) -> None:
        self.left: list[float] = []

    def complete(self, request: ChatRequest) -> Completion:
        self.left.append(request.remaining())
        return Completion(text='{"ok": true}', provider=self.name, model="m")

    def describe(self) -> dict:
        return {"name": self.name}


def test_throttle_keeps_each_links_breaker_and_reserve(upstream):
    """Defect #3: the throttled chain rebuilt links from bare providers, dropping breakers and reserves."""
    upstream.default(status(500))
    primary = bare(upstream)
    breaker = CircuitBreaker(primary.name, MemoryBreakerStore(), BreakerPolicy(failures=1, cooldown_s=60))
    fallback = StandIn()
    chain = ProviderChain([Link(primary, breaker), Link(fallback, reserve_s=1.5)])
    throttled = throttle(chain, AdaptiveLimiter(2))
    assert [(link.breaker, link.reserve_s) for link in throttled.links] == [(breaker, 0.0), (None, 1.5)]
    chain.complete(chat())  # the API's call fails and opens the shared breaker
    completion = throttled.complete(chat())
    assert completion.provider == "standin" and completion.fallback_from == ["openai:ProviderUnavailable"]
    assert upstream.calls == 1  # the bulk call skipped the provider whose breaker is open


def test_a_hung_upstream_leaves_the_fallback_its_reserve_in_bulk_too(upstream):
    upstream.default(hang())
    slow = OpenAIProvider(model="m", api_key="k", base_url=upstream.base_url, timeout_s=30, retry=RetryPolicy(retries=0))
    fallback = StandIn()
    throttled = throttle(ProviderChain([Link(slow), Link(fallback, reserve_s=1.5)]), AdaptiveLimiter(2))
    completion = throttled.complete(chat(deadline_s=3.0))
    assert completion.provider == "standin" and completion.fallback_from == ["openai:UpstreamTimeout"]
    assert fallback.left[0] >= 1.4  # the hung call was cut off at its share, before the reserve


def test_in_process_copy_jobs_skip_a_provider_whose_breaker_the_api_opened(upstream):
    upstream.default(status(500))
    settings = load_settings(
        openai_base_url=upstream.base_url, openai_api_key="sk-test", providers="openai", redis_url="",
        retries=0, breaker_failures=1, breaker_cooldown_s=60,
    )
    deps = build_dependencies(settings, catalog=Catalog.of([POWER_BANK]))
    client = create_app(settings, deps=deps).test_client()
    try:
        assert client.post("/v1/copy", json={"product_id": "PB-1"}).json["degraded"]  # opens the breaker
        assert upstream.calls == 1
        job = client.post("/v1/copy/jobs", json={"product_ids": ["PB-1"], "variants": 1}).json
        deadline = time.monotonic() + 30
        while (state := client.get(job["status_url"]).json)["state"] != "completed":
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        assert state["failed"] == 1 and upstream.calls == 1
        assert "circuit breaker open" in client.get(job["results_url"]).get_data(as_text=True)
    finally:
        deps.copy_jobs.close()


def test_jobs_sharing_the_api_chain_keep_their_own_latency_estimate():
    """Issue 14 item 8: calls that waited behind the bulk limiter must not make the API skip a provider as slow."""
    from service.provider.latency import LatencyEstimate

    api = LatencyEstimate(probe_after_s=7)
    api.answered(0.5)

    class Fast:
        name = "openai"

        def complete(self, request):
            return Completion(text="{}", provider="openai", model="m")

        def describe(self):
            return {"name": "openai"}

    chain = ProviderChain([Link(Fast(), latency=api)])
    jobs = throttle(chain, AdaptiveLimiter(2))
    assert jobs.links[0].latency is not api and jobs.links[0].latency.probe_after_s == 7
    assert jobs.links[0].latency.expected() is None
    jobs.links[0].latency.answered(60.0)  # a job call that waited a minute for a rate-limit pause
    assert api.expected() == 0.5
