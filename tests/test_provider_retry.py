import email.utils
import time

import pytest

from service.errors import ProviderError, RateLimited, RetryableProviderError
from service.provider.retry import RetryPolicy, parse_retry_after


class Clock:
    """A fake monotonic clock that the fake sleep advances."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def run(policy, failures, deadline_in=60.0, clock=None):
    clock = clock or Clock()
    attempts = []
    for attempt in policy.retrying(clock.now + deadline_in, sleep=clock.sleep, clock=clock):
        with attempt:
            attempts.append(clock.now)
            if failures:
                raise failures.pop(0)
            return attempts, clock
    raise AssertionError("unreachable")


def test_backoff_is_exponential_with_jitter_and_capped():
    policy = RetryPolicy(retries=4, initial_wait_s=0.5, max_wait_s=3.0, jitter_s=0.1)
    attempts, clock = run(policy, [RetryableProviderError("500")] * 4)
    assert len(attempts) == 5
    for slept, base in zip(clock.sleeps, [0.5, 1.0, 2.0, 3.0]):  # 0.5 * 2**n (+ up to 0.1 jitter), capped at 3
        assert base <= slept <= min(base + 0.1, 3.0)


def test_retry_after_is_honoured_exactly():
    attempts, clock = run(RetryPolicy(retries=2), [RateLimited("429", retry_after=2.5)])
    assert clock.sleeps == [2.5]


def test_gives_up_after_retries():
    with pytest.raises(RetryableProviderError):
        run(RetryPolicy(retries=2, initial_wait_s=0.01), [RetryableProviderError("x")] * 5)


def test_non_retryable_errors_are_not_retried():
    clock = Clock()
    with pytest.raises(ProviderError):
        run(RetryPolicy(retries=3), [ProviderError("400 bad request")], clock=clock)
    assert clock.sleeps == []


def test_never_waits_past_the_deadline():
    clock = Clock()
    with pytest.raises(RateLimited):
        run(RetryPolicy(retries=5), [RateLimited("429", retry_after=30)], deadline_in=10, clock=clock)
    assert clock.sleeps == []  # waiting 30 s would overrun a 10 s deadline: stop now, let the chain fall back


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": "-4"}, 0.0),
        ({}, None),
        ({"Retry-After": "soon"}, None),
    ],
)
def test_parse_retry_after(headers, expected):
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date():
    now = time.time()
    header = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= parse_retry_after({"Retry-After": header}, now=now) <= 31
