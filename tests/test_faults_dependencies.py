"""Dependencies failing (issue 13 items 4-7): Redis down and hung, a rate-limited upstream, an upstream of garbage.

Redis faults go through a proxy in front of the real Redis that the test hangs (like SIGSTOP) and
releases; the upstream is the scripted OpenAI-compatible server over HTTP.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from service.cache.redis_circuit import BREAKER_NAME, RedisSkipped, guarded_client
from service.provider.breaker import BreakerPolicy, CircuitBreaker, MemoryBreakerStore
from tests.support import small_shop
from tests.support.openai_upstream import reply, reply_fn, status
from tests.support.picks import pick_first_k
from tests.support.prometheus import sample
from tests.support.redis_db import DOWN_REDIS_URL, REDIS_URL
from tests.support.tcp_proxy import HangableProxy
from tests.support.waiting import wait_for

QUERY = {"query": "warm down jacket for winter", "k": 3}


@pytest.fixture
def redis_proxy() -> Iterator[HangableProxy]:
    host, port = REDIS_URL.removeprefix("redis://").split("/")[0].split(":")
    with HangableProxy((host, int(port))) as proxy:
        yield proxy


def exposition(app) -> str:  # noqa: ANN001
    return app.test_client().get("/metrics").get_data(as_text=True)


# -- item 5: a hung Redis costs requests tens of ms, then nothing --------------------------------------


def test_a_hung_redis_is_skipped_after_a_few_timeouts_and_used_again_once_back(
    make_app, upstream, redis_proxy: HangableProxy, redis_prefix: str
) -> None:
    """Before: 0.5 s socket timeouts, redis-py's three retries, on every call: p50 0.2 s -> 2.2 s."""
    upstream.default(reply_fn(pick_first_k))
    app = make_app(redis_url=redis_proxy.url, cache_prefix=redis_prefix, redis_breaker_cooldown_s=2.0)
    client = app.test_client()
    assert client.post("/v1/recommend", json=QUERY).json["cached"] is False
    assert client.post("/v1/recommend", json=QUERY).json["cached"] is True  # Redis works through the proxy

    redis_proxy.hang()
    latencies = []
    for i in range(12):
        started = time.monotonic()
        response = client.post("/v1/recommend", json={"query": f"down jacket {uuid.uuid4().hex[:6]}", "k": 3})
        latencies.append(time.monotonic() - started)
        assert response.status_code == 200 and not response.json["degraded"]
    # A few calls pay one 50 ms timeout each until the breaker opens; after that Redis costs nothing.
    assert sum(latencies) < 3.0, latencies
    assert sorted(latencies)[len(latencies) // 2] < 0.25, latencies
    ready = client.get("/readyz").json
    assert ready["ready"] is True
    assert ready["cache"]["breaker"]["state"] == "open"
    assert any("Redis" in problem for problem in ready["problems"])
    assert sample(exposition(app), "shopguide_breaker_open", provider="redis") == 1
    connections = redis_proxy.accepted
    for _ in range(5):  # while skipped: no call and not even a connection (a stopped Redis still takes handshakes)
        client.post("/v1/recommend", json={"query": f"coat {uuid.uuid4().hex[:6]}", "k": 3})
    assert redis_proxy.accepted <= connections + 1  # at most a trial, if a cool-down ended meanwhile

    redis_proxy.release()
    def cached_again() -> bool:
        return client.post("/v1/recommend", json=QUERY).json["cached"] is True

    wait_for(cached_again, timeout_s=10, interval_s=0.2)  # the trial after the cool-down closes the breaker
    ready = client.get("/readyz").json
    assert ready["cache"]["ok"] and ready["cache"]["breaker"]["state"] == "closed" and ready["problems"] == []


def test_the_trial_after_a_cool_down_may_open_a_new_connection() -> None:
    """Every pooled connection broken by the outage (a restarted or hung Redis): the trial command connects first.

    Before: the connection's handshake (redis-py pipelines two CLIENT SETINFO commands) asked the breaker again,
    the second was refused while the first held the trial, and that refusal failed the trial: the cool-down
    doubled on every trial and the cache never came back.
    """
    clock = [1000.0]
    breaker = CircuitBreaker(
        BREAKER_NAME, MemoryBreakerStore(), BreakerPolicy(failures=1, cooldown_s=5.0), clock=lambda: clock[0]
    )
    client = guarded_client(REDIS_URL, timeout_s=0.5, breaker=breaker)
    breaker.record(redis.TimeoutError("hung"), trial=False)
    assert breaker.state() == "open"
    with pytest.raises(RedisSkipped):
        client.ping()
    clock[0] += 5.1
    assert breaker.state() == "half_open"
    assert client.ping() is True  # the trial: a new connection, its handshake, then the command
    assert breaker.state() == "closed"
    key = f"sgtest-trial-{uuid.uuid4().hex[:8]}"
    assert client.set(key, "1", px=1000) and client.get(key) == b"1"


def test_redis_call_timeouts_are_a_setting_of_tens_of_ms() -> None:
    settings = small_shop.settings()
    assert settings.redis_timeout_s == 0.05
    deps = small_shop.deps(small_shop.settings(redis_url=REDIS_URL, redis_timeout_s=0.02))
    kwargs = deps.cache._client.connection_pool.connection_kwargs  # noqa: SLF001 - the client's own timeouts
    assert kwargs["socket_timeout"] == 0.02 and kwargs["socket_connect_timeout"] == 0.02
    assert kwargs["retry"].get_retries() == 0


# -- item 4: copy jobs answer 503 with Retry-After while Redis is down or hung; /readyz says so -----------------


@pytest.mark.parametrize("fault", ["down", "hung"])
def test_copy_jobs_answer_503_with_retry_after_and_readyz_reports_the_job_backend(
    redis_proxy: HangableProxy, rq_prefix: str, fault: str
) -> None:
    settings = small_shop.settings(redis_url=redis_proxy.url, cache_prefix=rq_prefix, rate_limit="off")
    client = small_shop.app(settings).test_client()
    created = client.post("/v1/copy/jobs", json={"product_ids": ["p-down-1"]})
    assert created.status_code == 202
    job = created.json["job_id"]
    jobs = client.get("/readyz").json["jobs"]  # with the studio's worker count (issue 14 item 5) beside it
    assert jobs["backend"] == "rq" and jobs["ok"] is True and "workers" in jobs

    redis_proxy.down() if fault == "down" else redis_proxy.hang()
    started = time.monotonic()
    for method, path, body in [
        ("post", "/v1/copy/jobs", {"product_ids": ["p-down-1"]}),
        ("get", f"/v1/copy/jobs/{job}", None),
        ("get", f"/v1/copy/jobs/{job}/results", None),
    ]:
        response = getattr(client, method)(path, json=body)
        assert response.status_code == 503, (path, response.get_data(as_text=True))
        error = response.json["error"]
        assert error["code"] == "unavailable" and error["request_id"] == response.headers["X-Request-ID"]
        assert int(response.headers["Retry-After"]) > 0
    assert time.monotonic() - started < 2.0  # not 5 s per request
    ready = client.get("/readyz").json
    assert ready["jobs"]["backend"] == "rq" and ready["jobs"]["ok"] is False
    assert any(p.startswith("copy jobs:") for p in ready["problems"])
    redis_proxy.release()


def test_redis_refusing_connections_costs_nothing(make_app, upstream) -> None:
    upstream.default(reply_fn(pick_first_k))
    client = make_app(redis_url=DOWN_REDIS_URL).test_client()
    started = time.monotonic()
    for _ in range(10):
        assert client.post("/v1/recommend", json=QUERY).status_code == 200
    assert time.monotonic() - started < 3.0


# -- item 6: a breaker opened by 429s honours Retry-After ------------------------------------------------


def test_a_breaker_opened_by_429s_stays_open_for_the_upstreams_retry_after(make_app, upstream) -> None:
    """Before: Retry-After: 1, yet the provider was skipped for the whole 30 s cool-down."""
    upstream.script(status(429, retry_after=1), status(429, retry_after=1))
    upstream.default(reply_fn(pick_first_k))
    app = make_app(retries=0, breaker_failures=2, breaker_cooldown_s=30)
    client = app.test_client()
    for _ in range(2):
        assert client.post("/v1/recommend", json=QUERY).json["degraded"] is True
    breaker = client.get("/readyz").json["providers"][0]["breaker"]
    assert breaker["state"] == "open" and breaker["open_for_s"] <= 1.0
    assert client.post("/v1/recommend", json=QUERY).json["fallback_from"] == ["openai:ProviderUnavailable"]
    assert upstream.calls == 2
    time.sleep(1.05)
    body = client.post("/v1/recommend", json=QUERY).json
    assert body["provider"] == "openai" and not body["degraded"] and upstream.calls == 3


# -- item 7: a provider whose answers are mostly invalid shows in /readyz and the metrics ---------------------


def test_a_provider_answering_garbage_is_reported_failing(make_app, upstream) -> None:
    upstream.default(reply("Sure! Here are some great jackets for you."))  # a chat completion, not the contract
    app = make_app(retries=0)
    client = app.test_client()
    assert client.get("/readyz").json["providers"][0]["answers"]["failing"] is False
    for i in range(6):  # each request: the answer and the re-ask, both invalid
        assert client.post("/v1/recommend", json={"query": f"jacket {i}", "k": 2}).json["degraded"] is True
    ready = client.get("/readyz").json
    answers = ready["providers"][0]["answers"]
    assert answers["failing"] is True and answers["invalid_share"] == 1.0 and answers["recent"] == 12
    assert ready["providers"][0]["breaker"]["state"] == "closed"  # the transport is fine; the answers are not
    assert any("openai: 100% of its last 12 answers were invalid" in p for p in ready["problems"])
    assert sample(exposition(app), "shopguide_provider_invalid_share", provider="openai") == 1.0

    upstream.default(reply_fn(pick_first_k))  # the upstream recovers: good answers dilute the window
    for i in range(12):
        client.post("/v1/recommend", json={"query": f"coat {i}", "k": 2})
    answers = client.get("/readyz").json["providers"][0]["answers"]
    assert answers["failing"] is False and answers["invalid_share"] == 0.5


def test_answer_quality_window() -> None:
    from service.provider.quality import AnswerQuality

    shares: list[float] = []
    quality = AnswerQuality(window=10, ratio=0.5, min_answers=4, on_share=lambda _p, s: shares.append(s))
    for valid in [False, False, False]:
        quality.record("x", valid)
    assert quality.describe("x")["failing"] is False  # too few to judge
    quality.record("x", True)
    assert quality.describe("x") == {"recent": 4, "invalid": 3, "invalid_share": 0.75, "failing": True}
    for _ in range(10):
        quality.record("x", True)
    assert quality.describe("x")["invalid_share"] == 0.0 and shares[-1] == 0.0
    assert quality.describe("unknown")["recent"] == 0
