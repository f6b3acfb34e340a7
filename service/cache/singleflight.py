"""Identical requests in flight at the same time make one upstream call.

Within a process, followers wait on the leader's future. Across processes
(gunicorn workers, pods), the leader holds a short Redis lock; followers elsewhere
poll for the leader's result, which is published under its own short-lived key
whether or not the answer itself is cacheable. If the leader dies or is too slow,
the lock expires and a follower computes for itself: single-flight saves calls,
it never blocks an answer past the deadline.

A computation may also hand back an answer to cache (:class:`Computed`): the cache
writes it with the flight's publish (:meth:`AnswerCache.set_with`), in one round trip
when the cache lives in the flight's Redis.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import redis

from service.cache.store import AnswerCache, FlightClaim, RedisWrites

RESULT_TTL_S = 30.0
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Computed:
    """What a computation hands back: the value every caller of the flight gets, and an answer to cache."""

    value: bytes
    cache_key: str | None = None
    cache_value: bytes = b""
    cache_ttl_s: float = 0.0
    # whether the answer's write may follow the response: not for one whose key is logged for deletion right
    # after it (a shopper's personal answer: a worker elsewhere forgetting them must find it written)
    may_write_behind: bool = True


Compute = Callable[[], "bytes | Computed"]


@dataclass(frozen=True)
class FlightResult:
    value: bytes
    shared: bool  # True when another caller's computation answered this one


def flight_keys(key: str) -> tuple[str, str]:
    """The lock and the published result of the flight computing ``key`` (what forgetting an answer drops too)."""
    return f"{key}:flight", f"{key}:flight-result"


class SingleFlight:
    """Coalesce concurrent computations of the same key."""

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        lock_ttl_s: float = 30.0,
        poll_s: float = 0.01,
        max_poll_s: float = 0.1,
    ) -> None:
        self._client = client
        self._lock_ttl_s = lock_ttl_s
        self._poll_s = poll_s
        self._max_poll_s = max_poll_s
        self._flights: dict[str, Future[bytes]] = {}
        self._guard = threading.Lock()
        self._release_lock = client.register_script(_RELEASE) if client is not None else None

    def claim(self, key: str) -> FlightClaim | None:
        """The cross-process lock of a flight for ``key``, to ask for with the cache read (None: no Redis)."""
        if self._client is None:
            return None
        return FlightClaim(self._client, flight_keys(key)[0], uuid.uuid4().hex, int(self._lock_ttl_s * 1000))

    def do(
        self,
        key: str,
        compute: Compute,
        deadline: float,
        cache: AnswerCache | None = None,
        claimed: tuple[FlightClaim, bool] | None = None,
    ) -> FlightResult:
        """Run ``compute`` once for all concurrent callers of ``key``; wait at most until ``deadline``.

        A :class:`Computed` with a ``cache_key`` is also written to ``cache``. ``claimed``: the lock was already
        asked for (:meth:`claim`, with the cache read), and whether this caller got it.
        """
        with self._guard:
            future = self._flights.get(key)
            leader = future is None
            if leader:
                future = Future()
                self._flights[key] = future
        assert future is not None
        if not leader:
            if claimed is not None and claimed[1]:
                self._release(claimed[0])  # this process's leader answers; the lock taken meanwhile is not needed
            try:
                return FlightResult(future.result(timeout=max(0.0, deadline - time.monotonic())), shared=True)
            except FutureTimeout:
                return FlightResult(self._alone(compute, cache), shared=False)
            except Exception:  # the leader failed; this caller tries for itself
                return FlightResult(self._alone(compute, cache), shared=False)
        try:
            result = self._across_processes(key, compute, deadline, cache, claimed)
            future.set_result(result.value)
            return result
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            with self._guard:
                self._flights.pop(key, None)

    def _alone(self, compute: Compute, cache: AnswerCache | None) -> bytes:
        """Compute without sharing; the answer to cache, if any, is written on its own."""
        computed = _computed(compute())
        if computed.cache_key is not None and cache is not None:
            cache.set(computed.cache_key, computed.cache_value, computed.cache_ttl_s)
        return computed.value

    def _release(self, claim: FlightClaim) -> None:
        try:
            self._release_lock(keys=[claim.lock_key], args=[claim.token])
        except redis.RedisError:
            pass  # it expires

    def _across_processes(
        self, key: str, compute: Compute, deadline: float, cache: AnswerCache | None,
        claimed: tuple[FlightClaim, bool] | None = None,
    ) -> FlightResult:
        if self._client is None:
            return FlightResult(self._alone(compute, cache), shared=False)
        lock_key, result_key = flight_keys(key)
        if claimed is not None:
            acquired = claimed[1]
        else:
            try:
                acquired = bool(self._client.set(lock_key, uuid.uuid4().hex, nx=True, px=int(self._lock_ttl_s * 1000)))
            except redis.RedisError:
                return FlightResult(self._alone(compute, cache), shared=False)
        if acquired:
            try:
                computed = _computed(compute())
                self._publish(computed, result_key, lock_key, cache)
                return FlightResult(computed.value, shared=False)
            except BaseException:
                try:
                    self._client.delete(lock_key)
                except redis.RedisError:
                    pass
                raise
        return self._follow(lock_key, result_key, compute, deadline, cache)

    def _publish(self, computed: Computed, result_key: str, lock_key: str, cache: AnswerCache | None) -> None:
        """The flight's result for followers elsewhere and the lock released, with the answer to cache if any.

        A failed publish is not the caller's failure: followers elsewhere compute for themselves once the
        lock expires.
        """
        assert self._client is not None
        value = computed.value

        def queue(pipe: redis.client.Pipeline) -> None:
            pipe.set(result_key, value, px=int(RESULT_TTL_S * 1000))
            pipe.delete(lock_key)

        writes = RedisWrites(self._client, queue)
        try:
            if computed.cache_key is not None and cache is not None:
                # behind the response only while this is the process's one flight: with others in flight the
                # worker has no idle CPU for a second thread, whose hand-offs cost more than the round trip
                # (bench.service at 64 clients: 0.86-0.91 of the floor with every write behind, 0.89-0.93 inline)
                behind = computed.may_write_behind and len(self._flights) <= 1
                cache.set_with(computed.cache_key, computed.cache_value, computed.cache_ttl_s, writes, behind=behind)
            else:
                writes.run()
        except redis.RedisError:
            pass

    def _follow(
        self, lock_key: str, result_key: str, compute: Compute, deadline: float, cache: AnswerCache | None
    ) -> FlightResult:
        wait = self._poll_s
        try:
            while time.monotonic() + wait < deadline:
                time.sleep(wait)
                pipe = self._client.pipeline(transaction=False)  # type: ignore[union-attr]
                pipe.get(result_key)
                pipe.exists(lock_key)
                value, locked = pipe.execute()
                if value is not None:
                    return FlightResult(value, shared=True)
                if not locked:  # the leader gave up without a result
                    break
                wait = min(wait * 1.5, self._max_poll_s)
        except redis.RedisError:
            pass
        return FlightResult(self._alone(compute, cache), shared=False)


def _computed(result: bytes | Computed) -> Computed:
    return result if isinstance(result, Computed) else Computed(result)
