"""The retry policy for upstream calls: a value built from settings, testable without sleeping.

Retries only :class:`RetryableProviderError` (429, 5xx, timeouts, connection
errors), waits exponentially with jitter, honours ``Retry-After`` exactly, and
never starts an attempt, or a wait, that would end past the request's deadline.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from service.errors import RetryableProviderError

if TYPE_CHECKING:
    from service.settings import Settings

MAX_RETRY_AFTER_S = 600.0


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date); None if absent."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = lowered.get(header)
        if value is None:
            continue
        try:
            return min(max(float(value) / divisor, 0.0), MAX_RETRY_AFTER_S)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return min(max(when - (now if now is not None else time.time()), 0.0), MAX_RETRY_AFTER_S)
    return None


class wait_retry_after(wait_base):
    """Wait what the upstream asked for in ``Retry-After``, else fall back to ``fallback``."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        return self.fallback(retry_state)


class stop_before_deadline(stop_base):
    """Stop when the next wait plus a minimal attempt would end after ``deadline`` (monotonic)."""

    def __init__(self, deadline: float, min_attempt_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.deadline = deadline
        self.min_attempt_s = min_attempt_s
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.clock() + retry_state.upcoming_sleep + self.min_attempt_s > self.deadline


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between attempts: the one schedule for API calls and bulk runs."""

    retries: int = 3
    initial_wait_s: float = 0.2
    max_wait_s: float = 8.0
    jitter_s: float = 0.2
    min_attempt_s: float = 0.05

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """``SHOPGUIDE_RETRIES`` retries, waits capped at ``SHOPGUIDE_RETRY_MAX_WAIT_S``."""
        return cls(retries=settings.retries, max_wait_s=settings.retry_max_wait_s)

    def retrying(
        self,
        deadline: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        before_sleep: Callable[[RetryCallState], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> Retrying:
        """A tenacity ``Retrying`` for one call that must be done by ``deadline``."""
        return Retrying(
            retry=retry_if_exception_type(RetryableProviderError),
            wait=wait_retry_after(wait_exponential_jitter(multiplier=self.initial_wait_s, max=self.max_wait_s, jitter=self.jitter_s)),
            stop=stop_after_attempt(self.retries + 1) | stop_before_deadline(deadline, self.min_attempt_s, clock),
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
