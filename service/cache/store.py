"""Where answers are kept: Redis when ``REDIS_URL`` is set, else an in-process LRU.

A cache failure is never a request failure: Redis errors count as misses, are
counted, and show in readiness, while the service keeps answering uncached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from cachetools import TLRUCache

from service.cache.redis_circuit import guarded_client
from service.provider.breaker import CircuitBreaker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedisWrites:
    """Commands for one Redis server that may travel in the round trip of an answer's write.

    Single-flight's publish (the result for followers, the lock released) is one: written with
    the answer it saves a round trip on every cache miss.
    """

    client: redis.Redis
    queue: Callable[[Any], None]  # adds the commands to a pipeline of ``client``

    def run(self) -> None:
        """The commands on their own, in one round trip.

        :raises redis.RedisError: when Redis could not run them.
        """
        pipe = self.client.pipeline(transaction=False)
        self.queue(pipe)
        pipe.execute()


@dataclass(frozen=True)
class FlightClaim:
    """Single-flight's lock, asked for in the round trip that reads the answer (issue 17 §4).

    Every cache miss then takes the lock without a round trip of its own: a Redis round trip costs a
    web worker 0.1-0.17 ms of CPU on this machine, one of three a miss made.
    """

    client: redis.Redis
    lock_key: str
    token: str
    ttl_ms: int


# The answer if there is one, else whether this caller took the flight's lock (1) or another holds it (0).
_GET_OR_CLAIM = """
local answer = redis.call('GET', KEYS[1])
if answer then return answer end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""


class AnswerCache(Protocol):
    """Bytes by key, with a per-entry TTL."""

    backend: str

    def get(self, key: str) -> bytes | None: ...

    def get_claiming(self, key: str, claim: FlightClaim) -> tuple[bytes | None, bool | None]:
        """:meth:`get`, and on a miss ask for ``claim``'s lock in the same round trip when this cache lives behind
        its client: the answer (None on a miss) and whether the lock was taken (None: not asked; the caller asks)."""
        ...

    def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    def set_with(self, key: str, value: bytes, ttl_s: float, writes: RedisWrites, *, behind: bool = True) -> None:
        """:meth:`set`, and run ``writes``: in the same round trip when this cache lives behind their client.

        The answer is written even when ``writes`` fail; its own failure counts as for :meth:`set`. With ``behind``
        a cache may make the write after returning (:class:`RedisCache` with ``write_behind``); reads in this
        process see the answer at once either way.

        :raises redis.RedisError: when ``writes`` failed (a write made after returning raises nothing).
        """
        ...

    def delete(self, keys: list[str]) -> int:
        """Drop these answers (a forgotten shopper's); how many were there.

        :raises redis.RedisError: when Redis could not delete them.
        """
        ...

    def status(self) -> dict[str, Any]: ...


class CacheEvents(Protocol):
    def cache_event(self, outcome: str) -> None:
        """outcome is one of hit, miss, error, set."""


class _NoEvents:
    def cache_event(self, outcome: str) -> None:
        return None


class MemoryCache:
    """A thread-safe, size-bounded LRU with per-entry expiry, for one process."""

    backend = "memory"

    def __init__(self, max_entries: int = 10_000, events: CacheEvents | None = None) -> None:
        self._data: TLRUCache[str, tuple[bytes, float]] = TLRUCache(
            maxsize=max_entries, ttu=lambda _key, value, now: now + value[1], timer=time.monotonic
        )
        self._lock = threading.Lock()
        self._events = events or _NoEvents()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._data.get(key)
        self._events.cache_event("hit" if entry is not None else "miss")
        return entry[0] if entry is not None else None

    def get_claiming(self, key: str, claim: FlightClaim) -> tuple[bytes | None, bool | None]:
        return self.get(key), None

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        with self._lock:
            self._data[key] = (value, ttl_s)
        self._events.cache_event("set")

    def set_with(self, key: str, value: bytes, ttl_s: float, writes: RedisWrites, *, behind: bool = True) -> None:
        self.set(key, value, ttl_s)  # first: a failed round trip must not cost this process its answer
        writes.run()

    def delete(self, keys: list[str]) -> int:
        with self._lock:
            return sum(1 for key in keys if self._data.pop(key, None) is not None)

    def status(self) -> dict[str, Any]:
        with self._lock:
            size = len(self._data)
        return {"backend": self.backend, "ok": True, "entries": size}


class RedisCache:
    """Answers in Redis, shared by every worker and pod.

    With ``write_behind`` (what the service runs), an answer's write (:meth:`set_with`: the answer with the
    single-flight's publish) leaves the response path: one thread of this cache sends the writes in order,
    while this process reads the answer from memory until its write has landed, so a repeat here is a hit at
    once; elsewhere, the flight's lock (still held until the same write) makes a repeat wait for it rather
    than ask the model again. Writes made while the thread is busy go together in its next round trip. A failed write is counted as a cache error, never raised. :meth:`delete` waits
    for the writes queued before it, so a deleted answer is not written back afterwards. More than
    ``max_unwritten`` answers on their way: the next write is made in the request, as without the option.
    """

    backend = "redis"
    RETRY_AFTER_FAILURE_S = 1.0
    FLUSH_TIMEOUT_S = 5.0

    def __init__(
        self,
        client: redis.Redis,
        events: CacheEvents | None = None,
        *,
        write_behind: bool = False,
        max_unwritten: int = 1000,
    ) -> None:
        self._client = client
        self._get_or_claim = client.register_script(_GET_OR_CLAIM)
        self._events = events or _NoEvents()
        self._last_error: str | None = None
        self._last_error_logged = 0.0
        self._down_until = 0.0
        # one thread, started on the first write: writes land in the order they were made
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="cache-write") if write_behind else None
        self._max_unwritten = max_unwritten
        self._unwritten: dict[str, bytes] = {}  # answers whose write is on its way
        self._queued: list[_Write] = []  # their writes, for the writer's next round trip
        self._drain_scheduled = False
        self._unwritten_lock = threading.Lock()

    def _skipping(self) -> bool:
        """After a failure, skip Redis briefly so an unreachable server does not add its timeout to every request."""
        if time.monotonic() < self._down_until:
            self._events.cache_event("error")
            return True
        return False

    def _failed(self, op: str, exc: Exception) -> None:
        self._down_until = time.monotonic() + self.RETRY_AFTER_FAILURE_S
        self._events.cache_event("error")
        self._last_error = f"{op}: {type(exc).__name__}: {exc}"
        now = time.monotonic()
        if now - self._last_error_logged > 10:  # one line per 10 s, not one per request
            self._last_error_logged = now
            log.warning("redis cache unavailable, answering uncached", extra={"error": self._last_error})

    def get(self, key: str) -> bytes | None:
        value = self._unwritten.get(key)
        if value is not None:
            self._events.cache_event("hit")
            return value
        if self._skipping():
            return None
        try:
            value = self._client.get(key)
        except redis.RedisError as exc:
            self._failed("get", exc)
            return None
        self._last_error = None
        self._events.cache_event("hit" if value is not None else "miss")
        return value  # type: ignore[return-value]

    def get_claiming(self, key: str, claim: FlightClaim) -> tuple[bytes | None, bool | None]:
        if claim.client is not self._client:  # the flight's lock lives elsewhere: each on its own
            return self.get(key), None
        value = self._unwritten.get(key)
        if value is not None:
            self._events.cache_event("hit")
            return value, None
        if self._skipping():
            return None, None
        try:
            found = self._get_or_claim(keys=[key, claim.lock_key], args=[claim.token, claim.ttl_ms])
        except redis.RedisError as exc:
            self._failed("get", exc)
            return None, None
        self._last_error = None
        if isinstance(found, bytes):
            self._events.cache_event("hit")
            return found, None
        self._events.cache_event("miss")
        return None, bool(found)

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        self._superseded(key)
        self._set_now(key, value, ttl_s)

    def _set_now(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0 or self._skipping():
            return
        try:
            self._client.set(key, value, px=_px(ttl_s))
        except redis.RedisError as exc:
            self._failed("set", exc)
            return
        self._events.cache_event("set")

    def set_with(self, key: str, value: bytes, ttl_s: float, writes: RedisWrites, *, behind: bool = True) -> None:
        if behind and self._writer is not None and ttl_s > 0 and len(self._unwritten) < self._max_unwritten:
            with self._unwritten_lock:
                self._unwritten[key] = value
                self._queued.append(_Write(key, value, ttl_s, writes))
                refused = False
                if not self._drain_scheduled:  # else the writer takes it with the others since its last round trip
                    try:  # under the lock: a deletion's flush queued after this set_with waits for this drain
                        self._writer.submit(self._drain)
                        self._drain_scheduled = True
                    except RuntimeError:  # the interpreter is exiting: no new thread work, so write it here
                        refused = True
            if refused:
                self._drain()
            return
        self._superseded(key)
        self._write_now(key, value, ttl_s, writes)

    def _superseded(self, key: str) -> None:
        """A write made now for ``key``: an older answer still queued must neither be read nor land after it."""
        if self._unwritten:
            with self._unwritten_lock:
                self._unwritten.pop(key, None)

    def _drain(self) -> None:
        """Every write queued so far, in order, in one round trip: under load the writer batches, saving CPU.

        An answer deleted or superseded since it was queued is not written; its flight's commands still run.
        """
        with self._unwritten_lock:
            batch, self._queued, self._drain_scheduled = self._queued, [], False
            current = [self._unwritten.get(w.key) is w.value for w in batch]
        try:
            self._send(list(zip(batch, current, strict=True)))
        except redis.RedisError:
            pass  # counted and logged by _failed; the flights' locks expire, followers compute for themselves
        finally:
            with self._unwritten_lock:
                for w in batch:
                    if self._unwritten.get(w.key) is w.value:  # not a newer answer for the key, nor deleted
                        del self._unwritten[w.key]

    def flush(self, timeout_s: float | None = None) -> None:
        """Return once every write queued before this call has landed or failed (at most ``timeout_s``)."""
        if self._writer is not None:
            self._writer.submit(_nothing).result(timeout=self.FLUSH_TIMEOUT_S if timeout_s is None else timeout_s)

    def _write_now(self, key: str, value: bytes, ttl_s: float, writes: RedisWrites) -> None:
        self._send([(_Write(key, value, ttl_s, writes), True)])

    def _send(self, batch: list[tuple[_Write, bool]]) -> None:
        """Writes in order (each answer only where its flag says it is still wanted), those for this cache's client
        in one round trip; those for another client on their own, one failing not stopping the rest.

        :raises redis.RedisError: the first failure, once every write was tried.
        """
        failed: redis.RedisError | None = None
        mine: list[tuple[_Write, bool]] = []
        for w, keep in batch:
            if w.writes.client is self._client:
                mine.append((w, keep))
                continue
            self._set_now(w.key, w.value, w.ttl_s if keep else 0.0)  # another server, or another pool
            try:
                w.writes.run()
            except redis.RedisError as exc:
                failed = failed or exc
        if mine:
            pipe = self._client.pipeline(transaction=False)
            skipping = self._skipping()
            answers = 0
            for w, keep in mine:
                if keep and w.ttl_s > 0 and not skipping:
                    pipe.set(w.key, w.value, px=_px(w.ttl_s))
                    answers += 1
                w.writes.queue(pipe)
            try:
                pipe.execute()
            except redis.RedisError as exc:
                if answers:
                    self._failed("set", exc)
                failed = failed or exc
            else:
                for _ in range(answers):
                    self._events.cache_event("set")
        if failed is not None:
            raise failed

    def delete(self, keys: list[str]) -> int:
        if self._writer is not None and keys:
            with self._unwritten_lock:
                for key in keys:
                    self._unwritten.pop(key, None)
            try:
                self.flush()  # a write already on its way lands first, then goes
            except FutureTimeout:
                raise redis.TimeoutError("answer writes still on their way to Redis; nothing was deleted") from None
        return int(self._client.delete(*keys)) if keys else 0

    def status(self) -> dict[str, Any]:
        try:
            self._client.ping()
        except redis.RedisError as exc:
            return {"backend": self.backend, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"backend": self.backend, "ok": True}


@dataclass(frozen=True)
class _Write:
    key: str
    value: bytes
    ttl_s: float
    writes: RedisWrites


def _nothing() -> None:
    return None


def _px(ttl_s: float) -> int:
    return max(1, int(ttl_s * 1000))


def redis_client(url: str, *, socket_timeout_s: float = 0.5, breaker: CircuitBreaker | None = None) -> redis.Redis:
    """A pooled client whose calls fail fast when Redis is down instead of stalling requests.

    ``breaker``: skip Redis altogether after repeated failures (:mod:`service.cache.redis_circuit`).
    """
    return guarded_client(url, timeout_s=socket_timeout_s, breaker=breaker)
