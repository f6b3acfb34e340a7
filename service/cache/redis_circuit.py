"""The request path's Redis behind a circuit breaker: a Redis that is down or hung costs requests nothing.

Every command the app's client sends (cache reads and writes, single-flight, provider breakers,
the copy-job API; pipelines and scripts too) goes through one connection class. After
``SHOPGUIDE_REDIS_BREAKER_FAILURES`` consecutive connection errors or timeouts, each at most
``SHOPGUIDE_REDIS_TIMEOUT_S`` (tens of ms), the breaker opens: for its cool-down every command
fails at once with :class:`RedisSkipped` (a ``redis.ConnectionError``, so every caller's existing
"Redis failed" path handles it: cache miss, answer uncached, breakers read closed, a job request
503), then one trial command decides. It is :class:`service.provider.breaker.CircuitBreaker`, the
providers' breaker, with its state in this process's memory: Redis cannot hold its own health.

Issue 13 item 5: a SIGSTOPped Redis raised recommendation p50 from 0.2 s to 2.2 s (a 0.5 s
socket timeout per call, redis-py's three retries on top) and cut throughput tenfold.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from service.provider.breaker import BreakerPolicy, CircuitBreaker, MemoryBreakerStore

BREAKER_NAME = "redis"


class RedisSkipped(redis.ConnectionError):
    """Not sent: the Redis circuit is open after repeated failures."""


class _GuardedConnection:
    """Mixed in before a redis-py connection class; ``_breaker`` is set on the mixed class."""

    _breaker: CircuitBreaker
    _trial = False

    def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
        # Not even a socket while open: a stopped Redis still completes TCP handshakes until its backlog is
        # full, then every connect waits out its timeout. (Half-open: connect; the command takes the trial.)
        if not getattr(self, "_sock", None) and self._breaker.state() == "open":
            raise RedisSkipped("Redis skipped: its circuit is open after repeated failures")
        super().connect_check_health(*args, **kwargs)  # type: ignore[misc]

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        # A connection that holds the trial sends what else it must under it: the trial command's connection may
        # be new, and redis-py pipelines its handshake (two CLIENT SETINFO), which the breaker would refuse while
        # the first held the trial, failing the trial on every cool-down (the cache never came back).
        if not self._trial:
            verdict = self._breaker.admit(trial_ttl_s=5.0)
            if verdict == "skip":
                raise RedisSkipped("Redis skipped: its circuit is open after repeated failures")
            self._trial = verdict == "trial"
        try:
            super().send_packed_command(command, check_health)  # type: ignore[misc]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._settle(exc)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().read_response(*args, **kwargs)  # type: ignore[misc]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._settle(exc)
            raise
        except redis.ResponseError:  # Redis answered: it is up
            self._settle(None)
            raise
        self._settle(None)
        return response

    def disconnect(self, *args: Any, **kwargs: Any) -> None:
        self._trial = False  # a trial whose outcome never came (an unparsable reply) is not this socket's next call's
        super().disconnect(*args, **kwargs)  # type: ignore[misc]

    def _settle(self, error: Exception | None) -> None:
        """The first outcome after a trial decides it; what follows counts as ordinary calls."""
        trial, self._trial = self._trial, False
        self._breaker.record(error, trial=trial)  # type: ignore[arg-type]


def redis_breaker(
    failures: int = 3, cooldown_s: float = 5.0, on_change: Any = None
) -> CircuitBreaker:
    """The breaker of this process's request-path Redis; a failed trial doubles the cool-down, up to 30 s."""
    policy = BreakerPolicy(failures=failures, cooldown_s=cooldown_s, max_cooldown_s=max(cooldown_s, 30.0))
    return CircuitBreaker(BREAKER_NAME, MemoryBreakerStore(), policy, on_change=on_change)


def guarded_client(url: str, *, timeout_s: float, breaker: CircuitBreaker | None) -> redis.Redis:
    """A pooled client: ``timeout_s`` on connect and on every call, no client-side retries, ``breaker`` in front."""
    pool = redis.ConnectionPool.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 0),  # redis-py retries three times by default: a hung call costs 4 timeouts
    )
    if breaker is not None:
        base = pool.connection_class
        pool.connection_class = type(f"Guarded{base.__name__}", (_GuardedConnection, base), {"_breaker": breaker})
    return redis.Redis(connection_pool=pool)
