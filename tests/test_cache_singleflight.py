import multiprocessing
import threading
import time
import uuid

import pytest
import redis

from service.cache.singleflight import SingleFlight
from tests.support.redis_db import REDIS_URL


@pytest.fixture
def key():
    key = f"test-sf-{uuid.uuid4().hex}"
    yield key
    client = redis.Redis.from_url(REDIS_URL)
    for k in client.scan_iter(f"{key}*"):
        client.delete(k)


def run_concurrently(n, fn):
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        barrier.wait()
        results[i] = fn()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("use_redis", [False, True])
def test_concurrent_callers_share_one_computation(key, use_redis):
    flights = SingleFlight(redis.Redis.from_url(REDIS_URL) if use_redis else None)
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.2)
        return b"answer"

    results = run_concurrently(16, lambda: flights.do(key, compute, time.monotonic() + 5))
    assert len(calls) == 1
    assert all(r.value == b"answer" for r in results)
    assert sum(r.shared for r in results) == 15


def test_a_failing_leader_does_not_fail_followers(key):
    flights = SingleFlight(None)
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.1)
        if len(calls) == 1:
            raise RuntimeError("leader failed")
        return b"second try"

    outcomes = run_concurrently(4, lambda: _catch(lambda: flights.do(key, compute, time.monotonic() + 5)))
    assert sum(isinstance(o, RuntimeError) for o in outcomes) == 1
    assert all(o.value == b"second try" for o in outcomes if not isinstance(o, Exception))


def _catch(fn):
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001
        return exc


def _process_flight(key, counter_key, out):
    client = redis.Redis.from_url(REDIS_URL)

    def compute():
        client.incr(counter_key)
        time.sleep(0.3)
        return b"shared-across-processes"

    result = SingleFlight(client).do(key, compute, time.monotonic() + 5)
    out.put((result.value, result.shared))


def test_single_flight_across_processes(key):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    counter_key = f"{key}:counter"
    procs = [ctx.Process(target=_process_flight, args=(key, counter_key, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    # Processes start at different times; whoever arrives while the leader computes shares its answer.
    assert all(value == b"shared-across-processes" for value, _ in results)
    calls = int(redis.Redis.from_url(REDIS_URL).get(counter_key))
    assert calls == 4 - sum(shared for _, shared in results)
    assert calls < 4


def test_follower_computes_itself_when_the_lock_holder_vanishes(key):
    client = redis.Redis.from_url(REDIS_URL)
    client.set(f"{key}:flight", "someone-else", px=300)  # a leader that will never publish
    started = time.monotonic()
    result = SingleFlight(client).do(key, lambda: b"mine", time.monotonic() + 5)
    assert result == result.__class__(b"mine", shared=False)
    assert 0.25 < time.monotonic() - started < 2


def test_follower_stops_waiting_at_the_deadline(key):
    client = redis.Redis.from_url(REDIS_URL)
    client.set(f"{key}:flight", "someone-else", px=10_000)
    started = time.monotonic()
    result = SingleFlight(client).do(key, lambda: b"mine", time.monotonic() + 0.3)
    assert result.value == b"mine"
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("use_redis", [False, True])
def test_an_answer_to_cache_is_written_with_the_result(key, use_redis):
    from service.cache.singleflight import Computed
    from service.cache.store import MemoryCache, RedisCache

    client = redis.Redis.from_url(REDIS_URL)
    cache = RedisCache(client) if use_redis else MemoryCache()
    flights = SingleFlight(client if use_redis else None)
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.05)
        return Computed(b"shared", f"{key}:answer", b"cached", 60.0)

    results = run_concurrently(4, lambda: flights.do(key, compute, time.monotonic() + 5, cache))
    assert [r.value for r in results] == [b"shared"] * 4 and len(calls) == 1
    assert cache.get(f"{key}:answer") == b"cached"
    if use_redis:
        assert 0 < client.pttl(f"{key}:answer") <= 60_000
        assert client.get(f"{key}:flight") is None  # released in the same round trip
    # Nothing to cache, or no cache given: only the value comes back.
    assert flights.do(f"{key}:2", lambda: Computed(b"v"), time.monotonic() + 5, cache).value == b"v"
    assert flights.do(f"{key}:3", lambda: Computed(b"v", f"{key}:x", b"c", 60.0), time.monotonic() + 5).value == b"v"
    assert cache.get(f"{key}:x") is None


def test_with_redis_down_the_answer_write_is_tried_alone_and_counted():
    from service.cache.singleflight import Computed
    from service.cache.store import RedisCache

    events = []

    class Events:
        def cache_event(self, outcome):
            events.append(outcome)

    down = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    flights = SingleFlight(down)
    cache = RedisCache(down, events=Events())
    result = flights.do("k", lambda: Computed(b"v", "k:answer", b"c", 60.0), time.monotonic() + 5, cache)
    assert result.value == b"v" and events == ["error"]  # the lock could not be taken; the write was tried alone


def test_an_in_process_cache_beside_redis_flights_is_written_too(key):
    from service.cache.singleflight import Computed
    from service.cache.store import MemoryCache

    cache = MemoryCache()
    flights = SingleFlight(redis.Redis.from_url(REDIS_URL))
    result = flights.do(key, lambda: Computed(b"v", f"{key}:answer", b"c", 60.0), time.monotonic() + 5, cache)
    assert result.value == b"v" and cache.get(f"{key}:answer") == b"c"


def test_any_answer_cache_gets_the_answer_with_the_publish_through_its_interface(key):
    from service.cache.singleflight import Computed

    class Recording:
        """A cache of neither built-in kind: single-flight only uses the interface."""

        backend = "recording"

        def __init__(self):
            self.written = []
            self.behind = []

        def get(self, k):
            return None

        def set(self, k, value, ttl_s):
            raise AssertionError("the flight writes through set_with")

        def set_with(self, k, value, ttl_s, writes, *, behind=True):
            self.written.append((k, value, ttl_s))
            self.behind.append(behind)
            writes.run()

        def status(self):
            return {"backend": self.backend, "ok": True}

    client = redis.Redis.from_url(REDIS_URL)
    cache = Recording()
    result = SingleFlight(client).do(key, lambda: Computed(b"v", f"{key}:answer", b"c", 60.0), time.monotonic() + 5, cache)
    assert result.value == b"v" and cache.written == [(f"{key}:answer", b"c", 60.0)]
    assert client.get(f"{key}:flight-result") == b"v" and client.get(f"{key}:flight") is None
    assert cache.behind == [True]  # the process's one flight: its write may leave the response path

    # with another flight in this process, the write is made in the request (no thread hand-off under load)
    flights, other_started, other_done = SingleFlight(client), threading.Event(), threading.Event()

    def slow_other():
        other_started.set()
        assert other_done.wait(5)
        return b"o"

    other = threading.Thread(target=lambda: flights.do(f"{key}-o", slow_other, time.monotonic() + 5))
    other.start()
    assert other_started.wait(5)
    flights.do(f"{key}-2", lambda: Computed(b"v", f"{key}:answer2", b"c", 60.0), time.monotonic() + 5, cache)
    other_done.set()
    other.join()
    assert cache.behind == [True, False]
    # a personal answer (its key logged for forgetting right after) is never written after the response
    alone = SingleFlight(client)
    alone.do(f"{key}-3", lambda: Computed(b"v", f"{key}:answer3", b"c", 60.0, may_write_behind=False),
             time.monotonic() + 5, cache)
    assert cache.behind == [True, False, False]


def test_a_caller_that_took_the_lock_with_its_read_but_follows_this_processes_leader_lets_it_go(key):
    """The leader here finished with Redis (lock released) just as another thread's read took the lock again."""
    client = redis.Redis.from_url(REDIS_URL)
    flights = SingleFlight(client)
    started, finish = threading.Event(), threading.Event()

    def compute():
        started.set()
        finish.wait(5)
        return b"answer"

    leader_claim = flights.claim(key)
    leader = threading.Thread(target=lambda: flights.do(key, compute, time.monotonic() + 5, claimed=(leader_claim, True)))
    leader.start()
    started.wait(5)
    late = flights.claim(key)
    client.set(late.lock_key, late.token, px=30_000)  # what the late caller's read took
    follower = threading.Thread(target=lambda: flights.do(key, compute, time.monotonic() + 5, claimed=(late, True)))
    follower.start()
    deadline = time.monotonic() + 5
    while client.get(late.lock_key) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.get(late.lock_key) is None  # released while the leader still computes
    client.set(late.lock_key, "someone-else", px=30_000)
    flights._release(late)  # only its own token is released
    assert client.get(late.lock_key) == b"someone-else"
    finish.set()
    leader.join(5)
    follower.join(5)
