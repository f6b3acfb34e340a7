"""The shared flow: answer cache → single-flight → compute → TTL, with real Redis and real threads."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from service.cache.singleflight import SingleFlight
from service.cache.store import MemoryCache, RedisCache
from service.ops.metrics import Metrics
from service.ops.trace import RequestTrace
from service.pipeline.ask import Usage
from service.pipeline.flow import Flow, Outcome
from service.provider.chain import ProviderChain
from service.settings import load_settings
from tests.support.redis_db import REDIS_URL


class Named:
    def __init__(self, name: str) -> None:
        self.name = name

    def complete(self, request):  # pragma: no cover - the flow never calls providers itself
        raise NotImplementedError

    def describe(self):
        return {"name": self.name}


class Computations:
    """A compute step that counts its calls and answers as ``provider``."""

    def __init__(self, provider: str | None = "primary", *, cacheable: bool = True, seconds: float = 0.0) -> None:
        self.provider, self.cacheable, self.seconds = provider, cacheable, seconds
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> Outcome:
        with self._lock:
            self.calls += 1
        time.sleep(self.seconds)
        payload = {"provider": self.provider, "model": "m", "degraded": self.provider is None, "text": "answer"}
        return Outcome(payload, 12.5, cacheable=self.cacheable, usage=Usage(calls=1, tokens_in=30, tokens_out=5))


@pytest.fixture
def client():
    return redis.Redis.from_url(REDIS_URL)


def make_flow(client=None, **settings):
    metrics = Metrics()
    flow = Flow(
        settings=load_settings(cache_ttl_s=600, cache_fallback_ttl_s=30, **settings),
        cache=RedisCache(client) if client is not None else MemoryCache(),
        flights=SingleFlight(client),
        chain=ProviderChain([Named("primary"), Named("fallback")]),
        metrics=metrics,
    )
    return flow, metrics


def test_a_miss_computes_caches_and_the_next_request_hits(client, redis_prefix):
    flow, _ = make_flow(client)
    compute = Computations()
    key = f"{redis_prefix}:k"
    trace = RequestTrace()
    first = flow.run(key, compute, time.monotonic() + 5, trace)
    assert first.payload["text"] == "answer" and first.llm_ms == 12.5 and not first.cached and not first.shared
    assert (trace.provider, trace.model, trace.cached, trace.degraded) == ("primary", "m", False, False)
    assert (trace.tokens_in, trace.tokens_out) == (30, 5)
    assert 590_000 < client.pttl(key) <= 600_000  # the primary's answer keeps the full TTL
    again = RequestTrace()
    second = flow.run(key, compute, time.monotonic() + 5, again)
    assert second.cached and second.llm_ms == 0.0 and second.payload == first.payload and compute.calls == 1
    assert again.cached is True and again.tokens_in == 0  # nothing was spent for the hit


def test_a_miss_makes_two_redis_round_trips_and_a_hit_one(client, redis_prefix):
    """Read + flight lock in one (a Lua call), the answer + published result + lock release in the other."""
    flow, _ = make_flow(client, cache_prefix=redis_prefix)
    round_trips = []
    execute, pipeline = client.execute_command, client.pipeline
    client.execute_command = lambda *args, **kwargs: round_trips.append(args[0]) or execute(*args, **kwargs)
    client.pipeline = lambda *args, **kwargs: round_trips.append("PIPELINE") or pipeline(*args, **kwargs)
    compute = Computations()
    flow.run(f"{redis_prefix}:k", compute, time.monotonic() + 5)
    assert round_trips == ["EVALSHA", "PIPELINE"] and compute.calls == 1
    assert client.get(f"{redis_prefix}:k:flight") is None  # released
    del round_trips[:]
    assert flow.run(f"{redis_prefix}:k", compute, time.monotonic() + 5).cached
    assert round_trips == ["EVALSHA"] and compute.calls == 1


def test_a_fallbacks_answer_is_kept_briefly(client, redis_prefix):
    flow, _ = make_flow(client)
    flow.run(f"{redis_prefix}:k", Computations("fallback"), time.monotonic() + 5)
    assert 0 < client.pttl(f"{redis_prefix}:k") <= 30_000
    assert flow.ttl("primary") == 600 and flow.ttl("fallback") == 30 and flow.ttl(None) == 30


def test_an_uncacheable_outcome_is_computed_again():
    flow, _ = make_flow()
    compute = Computations(None, cacheable=False)
    for _ in range(2):
        answer = flow.run("k", compute, time.monotonic() + 5)
        assert not answer.cached and answer.payload["degraded"]
    assert compute.calls == 2


def test_without_a_key_nothing_is_cached_or_coalesced():
    """A conversation turn's state is its own: ``key=None`` computes every time."""
    flow, metrics = make_flow()
    compute = Computations()
    trace = RequestTrace()
    answers = [flow.run(None, compute, time.monotonic() + 5, trace) for _ in range(2)]
    assert compute.calls == 2 and not any(a.cached or a.shared for a in answers)
    assert trace.tokens_in == 60 and metrics.coalesced._value.get() == 0


@pytest.mark.parametrize("use_redis", [False, True])
def test_concurrent_requests_share_one_computation_and_only_the_leader_counts_tokens(client, redis_prefix, use_redis):
    flow, metrics = make_flow(client if use_redis else None)
    compute = Computations(seconds=0.3)
    barrier = threading.Barrier(4)
    traces = [RequestTrace() for _ in range(4)]
    answers = [None] * 4

    def request(i: int) -> None:
        barrier.wait()
        answers[i] = flow.run(f"{redis_prefix}:k", compute, time.monotonic() + 5, traces[i])

    threads = [threading.Thread(target=request, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert compute.calls == 1 and all(a.payload["text"] == "answer" for a in answers)
    assert sum(a.shared for a in answers) == 3 and metrics.coalesced._value.get() == 3
    assert sorted(t.tokens_in for t in traces) == [0, 0, 0, 30] and sum(t.coalesced for t in traces) == 3


def test_a_failing_computation_propagates_and_caches_nothing():
    flow, _ = make_flow()

    def broken() -> Outcome:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        flow.run("k", broken, time.monotonic() + 5)
    compute = Computations()
    assert not flow.run("k", compute, time.monotonic() + 5).cached and compute.calls == 1


def test_a_personal_answer_is_in_redis_when_the_flow_returns_and_a_shared_one_may_follow(client, redis_prefix):
    """Write-behind (the service's cache): a personal answer's key is logged for forgetting right after the flow."""
    metrics = Metrics()
    flow = Flow(
        settings=load_settings(cache_ttl_s=600, cache_fallback_ttl_s=30),
        cache=RedisCache(client, write_behind=True),
        flights=SingleFlight(client),
        chain=ProviderChain([Named("primary"), Named("fallback")]),
        metrics=metrics,
    )
    held = threading.Event()
    original = client.pipeline

    def slow_pipeline(*args, **kwargs):  # every round trip that carries an answer waits for the test
        pipe = original(*args, **kwargs)
        execute = pipe.execute

        def waiting(*a, **k):
            if threading.current_thread() is not threading.main_thread():
                assert held.wait(10)
            return execute(*a, **k)

        pipe.execute = waiting
        return pipe

    client.pipeline = slow_pipeline
    try:
        flow.run(f"{redis_prefix}:personal", Computations(), time.monotonic() + 5, personal=True)
        assert client.get(f"{redis_prefix}:personal") is not None  # written in the request, before returning
        flow.run(f"{redis_prefix}:shared", Computations(), time.monotonic() + 5)
        assert redis.Redis.from_url(REDIS_URL).get(f"{redis_prefix}:shared") is None  # on its way, held
        assert flow.run(f"{redis_prefix}:shared", Computations(), time.monotonic() + 5).cached  # read meanwhile
    finally:
        held.set()
        flow._cache.flush()  # noqa: SLF001
    assert redis.Redis.from_url(REDIS_URL).get(f"{redis_prefix}:shared") is not None
