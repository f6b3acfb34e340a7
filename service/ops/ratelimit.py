"""Per-client, per-scope rate limits on the ``limits`` library (the engine under flask-limiter).

One ``hit`` per request: a few microseconds in memory, one Redis round trip when
shared. flask-limiter's per-request machinery (limit resolution, request
context bookkeeping) measured about a millisecond per request on this box, far
more than the check itself, so access control calls ``limits`` directly.
Storage is Redis when ``REDIS_URL`` is set (one budget across workers and pods),
else process memory. When Redis fails, limits are counted in memory for a
moment instead of failing requests.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import STRATEGIES
from limits.strategies import RateLimiter as Strategy
from redis.backoff import NoBackoff
from redis.retry import Retry

from service.settings import SCOPES, Settings

log = logging.getLogger(__name__)

PUBLISHABLE = "publishable"  # the limit of one publishable key, every shopper together
PUBLISHABLE_IP = "publishable-ip"  # the limit of one client IP address with one publishable key


class _SweepingMemoryStorage(MemoryStorage):
    """limits' MemoryStorage, sweeping expired counters inline once a second.

    The original starts a timer thread whenever its last one ended (every 10 ms under
    load); starting a thread waits for the OS to schedule it, which on a busy box
    added hundreds of microseconds to requests. Expired windows are already ignored
    on read, so the sweep only frees memory and need not be prompt.
    """

    SWEEP_EVERY_S = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.timer.cancel()
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the private timer-thread scheduler
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_EVERY_S
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def limits_storage_uri(redis_url: str) -> str:
    """``REDIS_URL`` as a ``limits`` storage URI: its name for a unix socket is ``redis+unix://``.

    ``redis://`` and ``rediss://`` (TLS) are the same in both; limits hands the URL to redis-py.
    """
    if redis_url.startswith("unix://"):
        return "redis+" + redis_url
    return redis_url


class RateLimiter:
    """Checks and counts one request of ``client`` against the limits of ``scope``."""

    RETRY_STORAGE_AFTER_S = 1.0

    def __init__(
        self,
        limits: Mapping[str, str],
        *,
        storage_uri: str = "memory://",
        strategy: str = "fixed-window",
        prefix: str = "shopguide",
        socket_timeout_s: float = 0.5,
    ) -> None:
        self._items: dict[str, list[RateLimitItem]] = {
            scope: parse_many(limit) for scope, limit in limits.items() if limit and limit != "off"
        }
        self._prefix = prefix
        options: dict[str, object] = {}
        if storage_uri.startswith(("redis", "rediss", "unix")):
            options = {
                "socket_timeout": socket_timeout_s,
                "socket_connect_timeout": socket_timeout_s,
                "retry": Retry(NoBackoff(), 0),  # redis-py's default three retries would quadruple a hung call
                "key_prefix": f"{prefix}:rl",
            }
        self._memory: Strategy = STRATEGIES[strategy](_SweepingMemoryStorage())
        self._shared = (
            self._memory
            if storage_uri == "memory://"
            else STRATEGIES[strategy](storage_from_string(storage_uri, wrap_exceptions=True, **options))
        )
        self.backend = "memory" if self._shared is self._memory else "redis"
        self._down_until = 0.0
        self._last_logged = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter | None:
        """The configured limiter, or None when every scope is unlimited."""
        limits = {scope: settings.rate_limit_for(scope) for scope in SCOPES}
        if settings.publishable_keys:  # per publishable key, and per client IP of each (issue 14 item 13)
            limits[PUBLISHABLE] = settings.publishable_rate_limit
            limits[PUBLISHABLE_IP] = settings.publishable_ip_rate_limit
        if all(limit == "off" for limit in limits.values()):
            return None
        storage = settings.rate_limit_storage
        use_redis = settings.redis_url and storage != "memory"
        return cls(
            limits,
            storage_uri=limits_storage_uri(settings.redis_url) if use_redis else "memory://",  # type: ignore[arg-type]
            strategy=settings.rate_limit_strategy,
            prefix=settings.cache_prefix,
            socket_timeout_s=settings.redis_timeout_s,
        )

    def check(self, scope: str, client: str) -> int | None:
        """Count the request; None when allowed, else the seconds to wait (for Retry-After)."""
        items = self._items.get(scope)
        if not items:
            return None
        limiter = self._memory if time.monotonic() < self._down_until else self._shared
        try:
            return self._hit(limiter, items, scope, client)
        except StorageError as exc:
            self._down_until = time.monotonic() + self.RETRY_STORAGE_AFTER_S
            now = time.monotonic()
            if now - self._last_logged > 10:
                self._last_logged = now
                log.warning("rate-limit storage unavailable, counting in memory", extra={"error": str(exc.storage_error)})
            return self._hit(self._memory, items, scope, client)

    def _hit(self, limiter: Strategy, items: list[RateLimitItem], scope: str, client: str) -> int | None:
        for item in items:
            if not limiter.hit(item, self._prefix, scope, client):
                reset = limiter.get_window_stats(item, self._prefix, scope, client).reset_time
                return min(max(1, math.ceil(reset - time.time())), item.get_expiry())
        return None
