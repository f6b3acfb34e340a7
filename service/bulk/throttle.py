"""Providers for bulk work: every upstream call goes through one :class:`AdaptiveLimiter`.

A bulk run must slow down on 429, not fail. :class:`ThrottledProvider` wraps one
provider: a 429 pauses every caller for the upstream's ``Retry-After`` (and halves
the concurrency) and is tried again until the request's deadline, without using up
the retry budget; other transient errors (5xx, timeouts) are retried on the
service's one schedule (:class:`~service.provider.retry.RetryPolicy`).

The chain around the throttled providers is the configured one, link for link: each
provider keeps its circuit breaker and the deadline reserve later providers need.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from service.bulk.limiter import AdaptiveLimiter
from service.errors import ProviderError, ProviderUnavailable, RateLimited
from service.ops.metrics import Metrics
from service.provider.base import ChatRequest, Completion, PromptStyle, Provider, prompt_style
from service.provider.chain import ProviderChain
from service.provider.registry import build_chain
from service.provider.retry import RetryPolicy
from service.settings import Settings

BULK_DEADLINE_S = 300.0  # default time one product of a bulk run may take, waits on 429 included
NO_RETRIES = RetryPolicy(retries=0)


class ThrottledProvider:
    """``inner`` behind the shared limiter, retried on ``retry`` (none by default: ``inner`` retries itself)."""

    def __init__(
        self,
        inner: Provider,
        limiter: AdaptiveLimiter,
        *,
        retry: RetryPolicy = NO_RETRIES,
        stop: threading.Event | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.prompt_style: PromptStyle = prompt_style(inner)
        self._limiter = limiter
        self._retry = retry
        self._stop = stop
        self._sleep = sleep

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def complete(self, request: ChatRequest) -> Completion:
        """The inner provider's answer, waiting out rate limits until ``request.deadline``.

        :raises ProviderError: the last failure, or ProviderUnavailable when the deadline passed (or the run
            was stopped) while waiting for a slot.
        """
        completion: Completion | None = None
        for attempt in self._retry.retrying(request.deadline, sleep=self._sleep):
            with attempt:
                completion = self._until_admitted(request)
        assert completion is not None  # tenacity re-raises the last failure
        return completion

    def _until_admitted(self, request: ChatRequest) -> Completion:
        """One attempt: the call, repeated after each 429 once the limiter lets callers through again."""
        last: ProviderError | None = None
        while True:
            if not self._limiter.acquire(request.deadline, self._stop):
                if self._stop is not None and self._stop.is_set():
                    raise ProviderUnavailable("bulk run stopped while waiting for the rate limit", provider=self.name)
                if last is not None:
                    raise last
                raise ProviderUnavailable("deadline passed while waiting for the rate limit", provider=self.name)
            try:
                completion = self.inner.complete(request)
            except RateLimited as exc:
                self._limiter.rate_limited(exc.retry_after)
                last = exc
                continue
            finally:
                self._limiter.release()
            self._limiter.succeeded()
            return completion


def throttle(
    chain: ProviderChain,
    limiter: AdaptiveLimiter,
    *,
    retry: RetryPolicy = NO_RETRIES,
    stop: threading.Event | None = None,
) -> ProviderChain:
    """``chain`` with each provider behind ``limiter``, keeping every link's breaker and reserve.

    For in-process jobs sharing the API's chain (its providers retry themselves): rate limits that
    outlast those retries pause every caller instead of failing, and a provider whose breaker the
    API opened is skipped by the jobs too.
    """
    return ProviderChain(
        [
            dataclasses.replace(
                link,
                provider=ThrottledProvider(link.provider, limiter, retry=retry, stop=stop),
                # its own latency estimate: waits behind the limiter must not teach the API's chain that a
                # provider is slow (issue 14 item 8)
                latency=link.latency.fresh() if link.latency is not None else None,
            )
            for link in chain.links
        ],
        getattr(chain, "quality", None),  # in-process jobs' answers count towards the API's provider readiness
    )


def throttled_chain(
    settings: Settings,
    metrics: Metrics,
    limiter: AdaptiveLimiter,
    *,
    stop: threading.Event | None = None,
) -> ProviderChain:
    """The configured provider chain for a bulk process: its providers without retries of their own,
    behind ``limiter``, retried on the settings' schedule."""
    bare = build_chain(settings.model_copy(update={"retries": 0}), metrics)
    return throttle(bare, limiter, retry=RetryPolicy.from_settings(settings), stop=stop)
