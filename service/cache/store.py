"""Where answers are kept: Redis when ``REDIS_URL`` is set, else an in-process LRU.

A cache failure is never a request failure: Redis errors count as misses, are
counted, and show in readiness, while the service keeps answering uncached.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

import redis
from cachetools import TLRUCache

log = logging.getLogger(__name__)


class AnswerCache(Protocol):
    """Bytes by key, with a per-entry TTL."""

    backend: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

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

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        with self._lock:
            self._data[key] = (value, ttl_s)
        self._events.cache_event("set")

    def status(self) -> dict[str, Any]:
        with self._lock:
            size = len(self._data)
        return {"backend": self.backend, "ok": True, "entries": size}


class RedisCache:
    """Answers in Redis, shared by every worker and pod."""

    backend = "redis"
    RETRY_AFTER_FAILURE_S = 1.0

    def __init__(self, client: redis.Redis, events: CacheEvents | None = None) -> None:
        self._client = client
        self._events = events or _NoEvents()
        self._last_error: str | None = None
        self._last_error_logged = 0.0
        self._down_until = 0.0

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

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        try:
            if not self.queue_set(self._client, key, value, ttl_s):  # a plain client runs it at once
                return
        except redis.RedisError as exc:
            self.queued_set_failed(exc)
            return
        self.queued_set_done()

    def queue_set(self, pipe: redis.Redis, key: str, value: bytes, ttl_s: float) -> bool:
        """Add :meth:`set` to a pipeline the caller executes, then reports with :meth:`queued_set_done` or
        :meth:`queued_set_failed`; False when nothing was added (no TTL, or Redis skipped after a failure)."""
        if ttl_s <= 0 or self._skipping():
            return False
        pipe.set(key, value, px=max(1, int(ttl_s * 1000)))
        return True

    def queued_set_done(self) -> None:
        self._events.cache_event("set")

    def queued_set_failed(self, exc: Exception) -> None:
        self._failed("set", exc)

    def status(self) -> dict[str, Any]:
        try:
            self._client.ping()
        except redis.RedisError as exc:
            return {"backend": self.backend, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"backend": self.backend, "ok": True}


def redis_client(url: str, *, socket_timeout_s: float = 0.5) -> redis.Redis:
    """A pooled client whose calls fail fast when Redis is down instead of stalling requests."""
    return redis.Redis.from_url(
        url,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=socket_timeout_s,
        health_check_interval=30,
        retry_on_timeout=False,
    )
