"""Providers for bulk work: every upstream call goes through one :class:`AdaptiveLimiter`.

A bulk run must slow down on 429, not fail. The wrapped providers are built
with no retries of their own; :class:`ThrottledProvider` owns the schedule: a 429
pauses every caller for the upstream's ``Retry-After`` (and halves the
concurrency) and is tried again until the request's deadline, without using
up the retry budget; other transient errors (5xx, timeouts) get the usual
``retries`` with exponential backoff.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from service.bulk.limiter import AdaptiveLimiter
from service.errors import ProviderError, ProviderUnavailable, RateLimited, RetryableProviderError
from service.ops.metrics import Metrics
from service.provider.base import ChatRequest, Completion, Provider
from service.provider.chain import ProviderChain
from service.provider.registry import build_chain
from service.settings import Settings

BULK_DEADLINE_S = 300.0  # default time one product of a bulk run may take, waits on 429 included
_BACKOFF_S = 0.2
_MAX_BACKOFF_S = 8.0


class ThrottledProvider:
    """``inner`` behind the shared limiter, with the bulk retry schedule."""

    def __init__(
        self,
        inner: Provider,
        limiter: AdaptiveLimiter,
        *,
        retries: int = 3,
        stop: threading.Event | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self._limiter = limiter
        self._retries = retries
        self._stop = stop
        self._sleep = sleep

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def complete(self, request: ChatRequest) -> Completion:
        """The inner provider's answer, waiting out rate limits until ``request.deadline``.

        :raises ProviderError: the last failure, or ProviderUnavailable when the deadline passed (or the run
            was stopped) while waiting for a slot.
        """
        failures = 0
        last: ProviderError | None = None
        while True:
            if not self._limiter.acquire(request.deadline, self._stop):
                if last is not None:
                    raise last
                reason = "bulk run stopped" if self._stop is not None and self._stop.is_set() else "deadline passed"
                raise ProviderUnavailable(f"{reason} while waiting for the rate limit", provider=self.name)
            try:
                completion = self.inner.complete(request)
            except RateLimited as exc:
                self._limiter.rate_limited(exc.retry_after)
                last = exc
                continue
            except RetryableProviderError as exc:
                failures += 1
                last = exc
                if failures > self._retries:
                    raise
                wait = min(_MAX_BACKOFF_S, _BACKOFF_S * 2 ** (failures - 1))
                if time.monotonic() + wait >= request.deadline:
                    raise
                self._sleep(wait)
                continue
            finally:
                self._limiter.release()
            self._limiter.succeeded()
            return completion


def throttle(
    chain: ProviderChain, limiter: AdaptiveLimiter, *, stop: threading.Event | None = None
) -> ProviderChain:
    """``chain``'s own providers (with their own retries) behind ``limiter``: rate limits that outlast
    those retries pause every caller instead of failing. For in-process jobs sharing the API's providers."""
    return ProviderChain([ThrottledProvider(p, limiter, retries=0, stop=stop) for p in chain.providers])


def throttled_chain(
    settings: Settings,
    metrics: Metrics,
    limiter: AdaptiveLimiter,
    *,
    stop: threading.Event | None = None,
) -> ProviderChain:
    """The configured provider chain, each provider without retries of its own, behind ``limiter``."""
    bare = build_chain(settings.model_copy(update={"retries": 0}), metrics)
    return ProviderChain([ThrottledProvider(p, limiter, retries=settings.retries, stop=stop) for p in bare.providers])
