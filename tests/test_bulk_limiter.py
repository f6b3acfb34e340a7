"""The adaptive limiter: bound, AIMD, a pause that holds every caller, and pauses shared across processes."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid

import redis

from service.bulk.limiter import AdaptiveLimiter, ProcessPauseBoard, RedisPauseBoard
from tests.support.redis_db import REDIS_URL


def test_bound_holds_and_release_lets_the_next_in():
    limiter = AdaptiveLimiter(2)
    assert limiter.acquire() and limiter.acquire()
    assert not limiter.acquire(deadline=time.monotonic() + 0.05)
    limiter.release()
    assert limiter.acquire(deadline=time.monotonic() + 0.05)
    assert limiter.in_flight == 2


def test_rate_limit_halves_once_per_pause_and_successes_grow_it_back():
    limiter = AdaptiveLimiter(16, minimum=2)
    limiter.rate_limited(0.01)
    limiter.rate_limited(0.01)  # the same burst of refusals: one decrease
    assert limiter.limit == 8
    time.sleep(0.02)
    limiter.rate_limited(0.0)
    assert limiter.limit == 4 and limiter.rate_limited_count == 3
    for _ in range(4):
        limiter.succeeded()
    assert limiter.limit == 5
    for _ in range(200):
        limiter.succeeded()
    assert limiter.limit == 16  # never above the configured bound


def test_a_429_pauses_every_caller_for_retry_after():
    limiter = AdaptiveLimiter(8)
    limiter.rate_limited(0.3)
    started = time.monotonic()
    times: list[float] = []

    def call() -> None:
        assert limiter.acquire(deadline=time.monotonic() + 5)
        times.append(time.monotonic() - started)
        limiter.release()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(times) == 4 and min(times) >= 0.28 and max(times) < 1.0


def test_deadline_and_stop_end_the_wait():
    limiter = AdaptiveLimiter(1)
    limiter.rate_limited(10)
    t0 = time.monotonic()
    assert not limiter.acquire(deadline=t0 + 0.1)
    assert 0.09 <= time.monotonic() - t0 < 1
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    t0 = time.monotonic()
    assert not limiter.acquire(stop=stop)
    assert time.monotonic() - t0 < 1


def test_redis_board_shares_a_pause_between_limiters():
    client = redis.Redis.from_url(REDIS_URL)
    key = f"test-pause-{uuid.uuid4().hex}"
    try:
        here = AdaptiveLimiter(4, board=RedisPauseBoard(client, key))
        elsewhere = AdaptiveLimiter(4, board=RedisPauseBoard(client, key))
        here.rate_limited(0.4)
        assert elsewhere.paused_for() > 0.2
        t0 = time.monotonic()
        assert elsewhere.acquire(deadline=t0 + 5)
        assert time.monotonic() - t0 >= 0.25
        here.rate_limited(0.1)  # a shorter pause never shortens a longer one
        assert float(client.get(key)) >= time.time()
    finally:
        client.delete(key)


def _pause_in_child(until, pauses) -> None:
    ProcessPauseBoard(until, pauses).pause(0.5)


def test_process_board_reaches_other_processes():
    ctx = multiprocessing.get_context("spawn")
    until, pauses = ctx.Value("d", 0.0), ctx.Value("i", 0)
    child = ctx.Process(target=_pause_in_child, args=(until, pauses))
    child.start()
    child.join(timeout=30)
    board = ProcessPauseBoard(until, pauses)
    assert 0.0 < board.remaining() <= 0.5 and board.count() == 1
