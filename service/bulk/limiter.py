"""An adaptive bound on upstream calls in flight, shared by every worker thread of a bulk run.

On a 429 every caller pauses for the upstream's ``Retry-After`` (not just the one
that was refused) and the bound halves; each run of successes as long as the
bound grows it by one again (additive increase, multiplicative decrease, as TCP
does). With a :class:`RedisPauseBoard` the pause also reaches every other
process and machine working against the same upstream (``shopguide worker``s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import redis

DEFAULT_PAUSE_S = 1.0  # a 429 without Retry-After
_BOARD_POLL_S = 0.1
_RECHECK_S = 0.25


class PauseBoard(Protocol):
    """Where a pause is published for other processes."""

    def pause(self, seconds: float) -> None: ...

    def remaining(self) -> float:
        """Seconds left of the longest published pause (0 when none)."""
        ...


class RedisPauseBoard:
    """A pause shared through one Redis key holding the epoch time it ends; failures never block work."""

    _EXTEND = """
local now_until = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > now_until then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""

    def __init__(self, client: redis.Redis, key: str, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._key = key
        self._clock = clock
        self._script = client.register_script(self._EXTEND)
        self._cached_until = 0.0
        self._checked_at = -1.0
        self._lock = threading.Lock()

    def pause(self, seconds: float) -> None:
        until = self._clock() + seconds
        try:
            self._script(keys=[self._key], args=[repr(until), max(1, int(seconds * 1000) + 1000)])
        except redis.RedisError:
            return
        with self._lock:
            self._cached_until = max(self._cached_until, until)

    def remaining(self) -> float:
        now = self._clock()
        with self._lock:
            stale = now - self._checked_at >= _BOARD_POLL_S
            if stale:
                self._checked_at = now
        if stale:
            try:
                value = self._client.get(self._key)
            except redis.RedisError:
                value = None
            with self._lock:
                self._cached_until = float(value) if value else 0.0
        with self._lock:
            return max(0.0, self._cached_until - now)


class ProcessPauseBoard:
    """A pause shared by the processes of one bulk run through a ``multiprocessing`` double (epoch seconds)."""

    def __init__(self, until: Any, pauses: Any, *, clock: Callable[[], float] = time.time) -> None:
        # multiprocessing.Value("d") and Value("i"), created by the parent before the children start
        self._until = until
        self._pauses = pauses
        self._clock = clock

    def pause(self, seconds: float) -> None:
        with self._until.get_lock():
            self._until.value = max(self._until.value, self._clock() + seconds)
        with self._pauses.get_lock():
            self._pauses.value += 1

    def count(self) -> int:
        """How many pauses (429s) were published."""
        return int(self._pauses.value)

    def remaining(self) -> float:
        return max(0.0, self._until.value - self._clock())


class AdaptiveLimiter:
    """Bounds concurrent upstream calls; pauses everyone on a 429 and adapts the bound (AIMD)."""

    def __init__(
        self,
        limit: int,
        *,
        minimum: int = 1,
        board: PauseBoard | None = None,
        default_pause_s: float = DEFAULT_PAUSE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.maximum = limit
        self.minimum = max(1, min(minimum, limit))
        self._limit = limit
        self._in_flight = 0
        self._paused_until = 0.0
        self._successes = 0
        self._board = board
        self._default_pause_s = default_pause_s
        self._clock = clock
        self._cond = threading.Condition()
        self.rate_limited_count = 0

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def paused_for(self) -> float:
        """Seconds until calls may start again (this process's pause or a published one)."""
        local = max(0.0, self._paused_until - self._clock())
        shared = self._board.remaining() if self._board is not None else 0.0
        return max(local, shared)

    def acquire(self, deadline: float | None = None, stop: threading.Event | None = None) -> bool:
        """Wait for a slot; False when ``deadline`` (monotonic) passes or ``stop`` is set first."""
        with self._cond:
            while True:
                if stop is not None and stop.is_set():
                    return False
                now = self._clock()
                wait = self.paused_for()
                if wait <= 0 and self._in_flight < self._limit:
                    self._in_flight += 1
                    return True
                if deadline is not None and now >= deadline:
                    return False
                # release() wakes a waiter; the short timeout re-checks the pause, stop and the board.
                timeout = min(wait, _RECHECK_S) if wait > 0 else _RECHECK_S
                if deadline is not None:
                    timeout = min(timeout, max(0.0, deadline - now))
                self._cond.wait(timeout)

    def release(self) -> None:
        with self._cond:
            self._in_flight = max(0, self._in_flight - 1)
            self._cond.notify()

    def succeeded(self) -> None:
        """One call answered: after as many successes as the bound, the bound grows by one."""
        with self._cond:
            self._successes += 1
            if self._successes >= self._limit and self._limit < self.maximum:
                self._successes = 0
                self._limit += 1
                self._cond.notify()

    def rate_limited(self, retry_after: float | None) -> None:
        """A 429: everyone pauses ``retry_after`` seconds; the bound halves (once per burst, not per refusal)."""
        pause = self._default_pause_s if retry_after is None else max(0.0, retry_after)
        with self._cond:
            self.rate_limited_count += 1
            now = self._clock()
            if now >= self._paused_until:  # refusals during a pause are the same burst: one decrease
                self._limit = max(self.minimum, self._limit // 2)
                self._successes = 0
            self._paused_until = max(self._paused_until, now + pause)
        if self._board is not None:
            self._board.pause(pause)
