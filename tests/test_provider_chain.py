"""The provider chain's fault walk: the real OpenAI provider against the scripted upstream, then a fallback."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from service.errors import ProviderUnavailable
from service.ops.metrics import Metrics
from service.output.schema import RECOMMEND_SCHEMA_NAME, recommend_schema
from service.provider.base import ChatRequest, Completion
from service.provider.breaker import BreakerPolicy, CircuitBreaker, MemoryBreakerStore
from service.provider.chain import AllProvidersFailed, Link, ProviderChain
from service.provider.openai_compat import OpenAIProvider
from service.provider.registry import build_chain
from service.provider.retry import RetryPolicy
from service.settings import load_settings
from tests.support.openai_upstream import hang, reply, status

ANSWER = '{"items": [], "summary": "from the fallback"}'


class StandIn:
    """A second provider that answers (or fails) on demand and records the deadlines it was given."""

    def __init__(self, name="local", error=None, seconds=0.0):
        self.name, self.error, self.seconds = name, error, seconds
        self.calls: list[float] = []

    def complete(self, request: ChatRequest) -> Completion:
        self.calls.append(request.deadline)
        if self.error:
            raise self.error
        time.sleep(self.seconds)
        return Completion(text=ANSWER, provider=self.name, model="stand-in")

    def describe(self):
        return {"name": self.name, "model": "stand-in"}


def hosted(upstream, **kwargs):
    return OpenAIProvider(
        model="m",
        base_url=upstream.base_url,
        api_key="k",
        timeout_s=kwargs.pop("timeout_s", 1.0),
        retry=RetryPolicy(retries=kwargs.pop("retries", 1), initial_wait_s=0.01, max_wait_s=0.05, jitter_s=0),
    )


def chat(deadline_s=5.0):
    return ChatRequest(
        messages=({"role": "user", "content": "u"},),
        schema_name=RECOMMEND_SCHEMA_NAME,
        schema=recommend_schema(),
        deadline=time.monotonic() + deadline_s,
    )


def with_breaker(provider, store, **policy):
    return CircuitBreaker(provider.name, store, BreakerPolicy(**{"failures": 2, "cooldown_s": 0.5, **policy}))


def test_upstream_500_then_the_local_provider_answers(upstream):
    upstream.default(status(500))
    local = StandIn()
    completion = ProviderChain([hosted(upstream), local]).complete(chat())
    assert completion.provider == "local"
    assert completion.fallback_from == ["openai:RetryableProviderError"]
    assert upstream.calls == 2  # first attempt + one retry, then the chain moved on


def test_upstream_timeout_leaves_the_local_provider_time_within_the_deadline(upstream):
    upstream.default(hang())
    local = StandIn(seconds=0.3)
    chain = ProviderChain([Link(hosted(upstream, timeout_s=30, retries=3)), Link(local, reserve_s=1.0)])
    started = time.monotonic()
    completion = chain.complete(chat(deadline_s=2.5))
    elapsed = time.monotonic() - started
    assert completion.provider == "local" and completion.fallback_from == ["openai:UpstreamTimeout"]
    assert elapsed < 2.5
    assert local.calls[0] - started >= 1.0  # the local model got its reserve: the deadline it saw was >= 1 s away


def test_both_fail(upstream):
    upstream.default(status(503))
    with pytest.raises(AllProvidersFailed) as info:
        ProviderChain([hosted(upstream, retries=0), StandIn(error=ProviderUnavailable("model not loaded"))]).complete(chat())
    assert [name for name, _ in info.value.failures] == ["openai", "local"]
    assert not info.value.deadline_exceeded


def test_queue_full_moves_on_to_the_next_provider_at_once():
    full = StandIn(name="local", error=ProviderUnavailable("local model queue full"))
    spare = StandIn(name="vllm")
    started = time.monotonic()
    completion = ProviderChain([full, spare]).complete(chat())
    assert completion.provider == "vllm" and completion.fallback_from == ["local:ProviderUnavailable"]
    assert time.monotonic() - started < 0.5


def test_breaker_opens_skips_the_upstream_during_cooldown_and_closes_after_recovery(upstream):
    store = MemoryBreakerStore()
    primary = hosted(upstream, retries=0)
    chain = ProviderChain([Link(primary, with_breaker(primary, store)), Link(StandIn())])
    upstream.default(status(500))
    for _ in range(2):
        assert chain.complete(chat()).provider == "local"
    assert upstream.calls == 2
    for _ in range(5):  # open: the upstream sees nothing
        completion = chain.complete(chat())
        assert completion.provider == "local" and completion.fallback_from == ["openai:ProviderUnavailable"]
    assert upstream.calls == 2
    upstream.default(reply(ANSWER))  # the upstream recovers
    time.sleep(0.6)
    assert chain.complete(chat()).provider == "openai"  # the trial
    assert chain.complete(chat()).provider == "openai"  # closed again
    assert upstream.calls == 4


def test_a_failed_trial_keeps_the_breaker_open(upstream):
    # The breaker's clock is the test's: a sleep on a loaded CI machine can overshoot the doubled cool-down.
    now = [1_000.0]
    store = MemoryBreakerStore()
    primary = hosted(upstream, retries=0)
    breaker = CircuitBreaker(primary.name, store, BreakerPolicy(failures=2, cooldown_s=0.3), clock=lambda: now[0])
    chain = ProviderChain([Link(primary, breaker), Link(StandIn())])
    upstream.default(status(500))
    for _ in range(2):
        chain.complete(chat())
    now[0] += 0.35
    chain.complete(chat())  # the trial fails
    calls = upstream.calls
    assert calls == 3
    now[0] += 0.35  # the first cool-down length is no longer enough: it doubled
    chain.complete(chat())
    assert upstream.calls == calls
    now[0] += 0.3  # 0.65 s after the failed trial: past the doubled 0.6 s, the next trial goes through
    chain.complete(chat())
    assert upstream.calls == calls + 1


def test_half_open_lets_exactly_one_concurrent_request_through(upstream):
    store = MemoryBreakerStore()
    primary = hosted(upstream, retries=0)
    chain = ProviderChain([Link(primary, with_breaker(primary, store, cooldown_s=0.2)), Link(StandIn())])
    upstream.default(status(500))
    for _ in range(2):
        chain.complete(chat())
    time.sleep(0.25)
    upstream.default(reply(ANSWER))
    upstream.set_latency(0.3)
    results = []
    threads = [threading.Thread(target=lambda: results.append(chain.complete(chat()).provider)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("openai") == 1 and results.count("local") == 5


def test_extra_named_providers_and_breaker_state_from_settings(upstream):
    settings = load_settings(
        openai_base_url="http://127.0.0.1:9/v1",
        providers="openai,backup",
        extra_providers={"backup": {"base_url": upstream.base_url, "model": "qwen-backup", "api_key": "sk-b"}},
        retries=0,
    )
    chain = build_chain(settings, Metrics())
    upstream.default(reply(ANSWER))
    completion = chain.complete(chat())
    assert completion.provider == "backup" and upstream.chat_requests[0].model == "qwen-backup"
    assert upstream.chat_requests[0].authorization == "Bearer sk-b"
    described = chain.describe()
    assert [d["name"] for d in described] == ["openai", "backup"]
    assert described[0]["breaker"]["consecutive_failures"] == 1
    assert described[1]["breaker"]["state"] == "closed"


def test_per_endpoint_models_are_the_openai_servers_and_extra_servers_keep_their_own(upstream):
    settings = load_settings(
        openai_base_url=upstream.base_url,
        openai_api_key="sk-test",
        providers="openai,backup",
        recommend_model="fast-model",
        extra_providers={"backup": {"base_url": upstream.base_url, "model": "qwen-backup"}},
        retries=0,
    )
    chain = build_chain(settings, Metrics())
    upstream.script(reply(ANSWER), status(500), reply(ANSWER))
    assert chain.complete(chat()).model == "fast-model"  # openai, for /v1/recommend
    copy = dataclasses.replace(chat(), endpoint="copy")
    assert chain.complete(copy).provider == "backup"  # openai failed; the backup server gets its own model
    assert [r.model for r in upstream.chat_requests] == ["fast-model", "gpt-4o-mini", "qwen-backup"]


# -- issue 14 item 8: a provider whose measured latency cannot fit the time left is skipped at once --------------
from service.errors import UpstreamTimeout  # noqa: E402
from service.provider.latency import LatencyEstimate  # noqa: E402


class NeedsTime:
    """A local model on CPU: answers after ``needs`` seconds, or gives up at its deadline (UpstreamTimeout)."""

    name = "local"

    def __init__(self, needs: float):
        self.needs = needs
        self.calls = 0

    def complete(self, request: ChatRequest) -> Completion:
        self.calls += 1
        left = request.remaining()
        if left < self.needs:
            time.sleep(max(0.0, left))
            raise UpstreamTimeout("deadline passed", provider=self.name)
        time.sleep(self.needs)
        return Completion(text=ANSWER, provider=self.name, model="slow")

    def describe(self):
        return {"name": self.name, "model": "slow"}


def test_a_provider_too_slow_for_the_time_left_is_skipped_at_once(upstream):
    """The issue: a failing hosted upstream, then the CPU model tried with the whole remaining deadline."""
    upstream.default(status(500))
    local = NeedsTime(0.8)
    chain = ProviderChain([Link(hosted(upstream, retries=0)), Link(local)])
    started = time.monotonic()
    with pytest.raises(AllProvidersFailed) as first:
        chain.complete(chat(0.5))  # measured: it ran into the deadline after ~0.5 s
    assert time.monotonic() - started >= 0.45 and [e.kind for _, e in first.value.failures][-1] == "UpstreamTimeout"
    started = time.monotonic()
    with pytest.raises(AllProvidersFailed) as second:
        chain.complete(chat(0.5))
    assert time.monotonic() - started < 0.3  # no second wait on a call that cannot answer in time
    assert [f"{n}:{e.kind}" for n, e in second.value.failures] == ["openai:RetryableProviderError", "local:ExpectedTooSlow"]
    assert local.calls == 1 and "does not fit" in str(second.value.failures[1][1])
    answered = chain.complete(chat(3.0))  # with time enough it is called, and answers
    assert answered.provider == "local" and local.calls == 2
    assert chain.describe()[1]["latency"]["samples"] == 2


def test_the_estimate_is_a_moving_average_of_answers_and_a_timeout_raises_it():
    estimate = LatencyEstimate()
    assert estimate.expected() is None and estimate.fits(0.001)  # unmeasured: tried
    estimate.answered(1.0)
    estimate.answered(2.0)
    assert estimate.expected() == pytest.approx(1.3)  # 0.3 * 2 + 0.7 * 1
    assert estimate.fits(1.3) and not estimate.fits(1.2)
    estimate.timed_out(2.0)  # needed more than 2 s: at least 3 s expected now
    assert estimate.expected() == pytest.approx(3.0)


def test_a_skipped_provider_is_probed_again_after_the_interval():
    now = [100.0]
    estimate = LatencyEstimate(probe_after_s=60, timeout_memory_s=10, clock=lambda: now[0])
    estimate.answered(10.0)  # slow answers: probed after probe_after_s
    assert not estimate.fits(5.0)
    now[0] += 30
    assert not estimate.fits(5.0)
    now[0] += 31
    assert estimate.fits(5.0)  # one probe ...
    assert not estimate.fits(5.0)  # ... per interval
    estimate.answered(1.0)  # the probe found it fast again: its answer replaces the stale estimate
    assert estimate.fits(5.0)
    estimate.timed_out(8.0)  # a timeout may have been a passing hang: remembered for timeout_memory_s only
    assert not estimate.fits(5.0)
    now[0] += 11
    assert estimate.fits(5.0) and not estimate.fits(5.0)


def test_no_reserve_is_kept_for_a_provider_that_will_be_skipped():
    first, slow = StandIn("openai"), LatencyEstimate()
    slow.answered(30.0)
    chain = ProviderChain([Link(first), Link(StandIn("local"), reserve_s=3.0, latency=slow)])
    request = chat(5.0)
    chain.complete(request)
    assert first.calls[0] == pytest.approx(request.deadline)  # the whole deadline, not 5 - 3 s
    fits = ProviderChain([Link(first), Link(StandIn("local"), reserve_s=3.0)])
    request = chat(5.0)
    fits.complete(request)
    assert first.calls[1] == pytest.approx(request.deadline - 3.0)


def test_latency_skipping_is_a_setting():
    settings = load_settings(providers="openai", openai_api_key="sk-x", latency_probe_s=7, breaker_cooldown_s=9)
    on = build_chain(settings, Metrics())
    assert on.links[0].latency is not None and on.links[0].latency.probe_after_s == 7
    assert on.links[0].latency.timeout_memory_s == 9
    off = build_chain(load_settings(providers="openai", openai_api_key="sk-x", latency_skip=False), Metrics())
    assert off.links[0].latency is None
