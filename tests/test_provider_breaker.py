import pytest
import redis

from service.errors import InvalidOutput, ProviderUnavailable, RetryableProviderError
from service.provider.breaker import BreakerPolicy, CircuitBreaker, MemoryBreakerStore, RedisBreakerStore
from tests.support.redis_db import REDIS_URL

FAIL = RetryableProviderError("500")


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture(params=["memory", "redis"])
def store(request, redis_prefix):
    if request.param == "memory":
        return MemoryBreakerStore()
    return RedisBreakerStore(redis.Redis.from_url(REDIS_URL), redis_prefix, read_ttl_s=0)


def breaker(store, clock, changes=None, **policy):
    return CircuitBreaker(
        "openai",
        store,
        BreakerPolicy(**{"failures": 3, "cooldown_s": 10, "max_cooldown_s": 35, **policy}),
        on_change=(lambda name, is_open: changes.append((name, is_open))) if changes is not None else None,
        clock=clock,
    )


def test_opens_after_n_consecutive_failures_and_skips_during_cooldown(store):
    clock, changes = Clock(), []
    b = breaker(store, clock, changes)
    for _ in range(2):
        assert b.admit(5) == "call"
        b.record(FAIL, trial=False)
    assert b.state() == "closed"
    b.record(FAIL, trial=False)
    assert b.state() == "open" and b.admit(5) == "skip"
    assert changes == [("openai", True)]
    clock.now += 9.9
    assert b.admit(5) == "skip"
    assert b.describe()["consecutive_failures"] == 3


def test_a_success_resets_the_count(store):
    clock = Clock()
    b = breaker(store, clock)
    b.record(FAIL, trial=False)
    b.record(FAIL, trial=False)
    b.record(None, trial=False)
    b.record(FAIL, trial=False)
    assert b.state() == "closed"


def test_one_trial_after_cooldown_closes_on_success(store):
    clock, changes = Clock(), []
    b = breaker(store, clock, changes)
    for _ in range(3):
        b.record(FAIL, trial=False)
    clock.now += 10.1
    assert b.state() == "half_open"
    assert b.admit(5) == "trial"
    assert b.admit(5) == "skip"  # only one trial at a time
    b.record(None, trial=True)
    assert b.state() == "closed" and b.admit(5) == "call"
    assert changes == [("openai", True), ("openai", False)]


def test_a_failed_trial_reopens_with_a_longer_cooldown(store):
    clock = Clock()
    b = breaker(store, clock)
    for _ in range(3):
        b.record(FAIL, trial=False)
    for expected in (20, 35, 35):  # doubled, then capped at max_cooldown_s
        clock.now += 100
        assert b.admit(5) == "trial"
        b.record(FAIL, trial=True)
        assert b.state() == "open"
        assert b.describe()["open_for_s"] == pytest.approx(expected)


@pytest.mark.parametrize("error", [ProviderUnavailable("queue full"), InvalidOutput("bad json")])
def test_load_shedding_and_bad_output_do_not_count(store, error):
    clock = Clock()
    b = breaker(store, clock)
    for _ in range(10):
        b.record(error, trial=False)
    assert b.state() == "closed"


def test_an_inconclusive_trial_frees_the_trial_for_another_request(store):
    clock = Clock()
    b = breaker(store, clock)
    for _ in range(3):
        b.record(FAIL, trial=False)
    clock.now += 11
    assert b.admit(5) == "trial"
    b.record(ProviderUnavailable("deadline too short"), trial=True)
    assert b.admit(5) == "trial"


def test_state_is_shared_across_processes_through_redis(redis_prefix):
    prefix = redis_prefix
    clock = Clock()
    worker_a = breaker(RedisBreakerStore(redis.Redis.from_url(REDIS_URL), prefix, read_ttl_s=0), clock)
    worker_b = breaker(RedisBreakerStore(redis.Redis.from_url(REDIS_URL), prefix, read_ttl_s=0), clock)
    for _ in range(3):
        worker_a.record(FAIL, trial=False)
    assert worker_b.admit(5) == "skip"
    clock.now += 11
    verdicts = [worker_a.admit(5), worker_b.admit(5)]
    assert sorted(verdicts) == ["skip", "trial"]


def test_redis_down_fails_open():
    b = breaker(RedisBreakerStore(redis.Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2), "x"), Clock())
    b.record(FAIL, trial=False)
    assert b.admit(5) == "call" and b.state() == "closed"


def _rate_limited(after):
    from service.errors import RateLimited

    return RateLimited("429", retry_after=after)


def test_a_breaker_opened_by_rate_limits_honours_retry_after(store):
    """Issue 13 item 6: after 429s with Retry-After: 1 the provider stayed off for the whole 30 s cool-down."""
    clock, changes = Clock(), []
    b = breaker(store, clock, changes)
    for _ in range(3):
        b.record(_rate_limited(1.0), trial=False)
    assert b.state() == "open" and changes == [("openai", True)]
    assert b.describe()["open_for_s"] == pytest.approx(1.0)
    clock.now += 1.01
    assert b.admit(5) == "trial"  # the upstream said one second; so does the breaker
    b.record(_rate_limited(2.0), trial=True)  # still limited: its new Retry-After, not a doubled cool-down
    assert b.describe()["open_for_s"] == pytest.approx(2.0)
    clock.now += 2.01
    assert b.admit(5) == "trial"
    b.record(None, trial=True)
    assert b.state() == "closed"


def test_retry_after_is_capped_and_plain_failures_keep_the_policy(store):
    clock = Clock()
    b = breaker(store, clock)
    for _ in range(3):
        b.record(_rate_limited(3600.0), trial=False)
    assert b.describe()["open_for_s"] == pytest.approx(35.0)  # max_cooldown_s
    other = CircuitBreaker("other", store, BreakerPolicy(failures=1, cooldown_s=10, max_cooldown_s=35), clock=clock)
    other.record(_rate_limited(None), trial=False)  # a 429 without Retry-After: the breaker's own cool-down
    assert other.describe()["open_for_s"] == pytest.approx(10.0)
