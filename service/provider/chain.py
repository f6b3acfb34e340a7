"""Try providers in order until one answers within the request's deadline.

The chain is itself a provider: it returns the first answer and records, in
``Completion.fallback_from``, which providers failed before it and how. Each link
may have a circuit breaker (skip a provider that keeps failing) and a reserve: the
time kept back from earlier links so that this one can still answer before the
deadline (a local model on CPU needs seconds; a hung upstream must not eat them).

Each link also measures its provider's latency (:mod:`service.provider.latency`): a provider whose expected
latency cannot fit the time left is skipped at once (``fallback_from`` says ``name:ExpectedTooSlow``), and
the reserve of a later provider that could not fit the whole request is not held back from earlier ones.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from service.errors import ExpectedTooSlow, ProviderError, ProviderUnavailable, UpstreamTimeout
from service.provider.base import ChatRequest, Completion, Provider, prompt_style
from service.provider.breaker import CircuitBreaker
from service.provider.latency import LatencyEstimate
from service.provider.quality import AnswerQuality

MIN_SHARE_S = 1.0  # an earlier provider is never left less than this by the reserves of later ones


class AllProvidersFailed(ProviderError):
    """Every provider in the chain failed; ``failures`` says how, in order."""

    def __init__(self, failures: list[tuple[str, ProviderError]], *, deadline_exceeded: bool) -> None:
        summary = "; ".join(f"{name}: {exc}" for name, exc in failures) or "no providers configured"
        super().__init__(f"no provider could answer ({summary})", provider="chain")
        self.failures = failures
        self.deadline_exceeded = deadline_exceeded


DEADLINE_SLACK_S = 0.05  # a failure this close to its deadline ran into it (a timeout by another name)


@dataclass(frozen=True)
class Link:
    provider: Provider
    breaker: CircuitBreaker | None = None
    reserve_s: float = 0.0
    latency: LatencyEstimate | None = dataclasses.field(default_factory=LatencyEstimate)  # None: never skipped


class ProviderChain:
    """Providers in order of preference; the first to answer wins."""

    name = "chain"

    def __init__(
        self,
        links: Sequence[Link | Provider],
        quality: AnswerQuality | None = None,
        *,
        on_call: Callable[[str, str, float], None] | None = None,
    ) -> None:
        self.links = [link if isinstance(link, Link) else Link(link) for link in links]
        self.quality = quality or AnswerQuality()  # the pipelines record each answer's validity here
        # (provider, outcome: "ok" or the error's kind, seconds) of every provider call: latency histograms
        self._on_call = on_call or (lambda provider, outcome, seconds: None)
        self._fingerprint: str | None = None

    @property
    def providers(self) -> list[Provider]:
        return [link.provider for link in self.links]

    @property
    def primary(self) -> str | None:
        return self.links[0].provider.name if self.links else None

    @property
    def wants_compact(self) -> bool:
        """Whether a provider of the chain answers the compact form of requests (callers then build one)."""
        return any(prompt_style(link.provider) == "compact" for link in self.links)

    def wants_compact_from(self, name: str | None) -> bool:
        """Whether the provider called ``name`` is one that wants the compact form (a small model)."""
        return any(link.provider.name == name and prompt_style(link.provider) == "compact" for link in self.links)

    def fingerprint(self, endpoint: str) -> str:
        """What identifies the chain's answers in cache keys: names and models, in order.

        Read once from the providers' descriptions (configuration: it does not change while the chain lives) and
        kept, since every request's cache key needs it: a model server's ``describe()`` asks the server for its
        health, and asked per request that cost the default chain's web workers 5 ms of CPU a request under load.
        """
        if self._fingerprint is None:
            parts = []
            for provider in self.providers:
                info = provider.describe()
                parts.append(f"{provider.name}:{info.get('model', '')}:{info.get('response_format', '')}")
            self._fingerprint = ">".join(parts)
        return self._fingerprint

    def describe(self) -> list[dict[str, Any]]:
        """Each provider's description with its breaker's state, for /readyz."""
        out = []
        for link in self.links:
            info = dict(link.provider.describe())
            info["breaker"] = link.breaker.describe() if link.breaker else None
            info["answers"] = self.quality.describe(link.provider.name)
            info["latency"] = link.latency.describe() if link.latency else None
            out.append(info)
        return out

    def complete(self, request: ChatRequest) -> Completion:
        """The first provider's answer that arrives in time.

        :raises AllProvidersFailed: when none could answer.
        """
        failures: list[tuple[str, ProviderError]] = []
        for position, link in enumerate(self.links):
            name = link.provider.name
            remaining = request.remaining()
            if remaining <= 0:
                failures.append((name, ProviderUnavailable("deadline passed", provider=name)))
                continue
            if link.latency is not None and not link.latency.fits(remaining):
                expected = link.latency.expected() or 0.0
                message = f"expected latency {expected:.1f}s does not fit the {remaining:.1f}s left"
                failures.append((name, ExpectedTooSlow(message, provider=name)))
                continue
            verdict = link.breaker.admit(trial_ttl_s=remaining) if link.breaker else "call"
            if verdict == "skip":
                failures.append((name, ProviderUnavailable("circuit breaker open", provider=name)))
                continue
            share = self._share(request, position)
            started = time.monotonic()
            try:
                completion = link.provider.complete(share)
            except ProviderError as exc:
                self._on_call(name, exc.kind, time.monotonic() - started)
                if link.breaker:
                    link.breaker.record(exc, trial=verdict == "trial")
                if link.latency is not None and (
                    isinstance(exc, UpstreamTimeout) or time.monotonic() >= share.deadline - DEADLINE_SLACK_S
                ):
                    link.latency.timed_out(time.monotonic() - started)
                failures.append((name, exc))
                continue
            if link.latency is not None:
                link.latency.answered(time.monotonic() - started)
            self._on_call(name, "ok", time.monotonic() - started)
            if link.breaker:
                link.breaker.record(None, trial=verdict == "trial")
            completion.fallback_from = [f"{failed}:{exc.kind}" for failed, exc in failures]
            return completion
        raise AllProvidersFailed(failures, deadline_exceeded=request.remaining() <= 0)

    def _share(self, request: ChatRequest, position: int) -> ChatRequest:
        """The request with a deadline that keeps back the later providers' reserves (not of those whose
        expected latency exceeds all the time the request has: they will be skipped, so nothing is kept for them)."""
        remaining = request.remaining()
        reserve = sum(
            link.reserve_s
            for link in self.links[position + 1 :]
            if link.latency is None or (link.latency.expected() or 0.0) <= remaining
        )
        if not reserve:
            return request
        deadline = max(request.deadline - reserve, min(request.deadline, time.monotonic() + MIN_SHARE_S))
        return dataclasses.replace(request, deadline=deadline)
