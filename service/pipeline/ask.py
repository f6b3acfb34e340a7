"""Asking the provider chain for structured output: call, count, parse (one repair), re-ask once.

Every pipeline calls its models through :class:`Asker`, so every call is counted one way
(:func:`record_completion`): the answering provider's call and tokens, one failed call
for each provider that failed before it, and each of those as a fallback. A caller that
will stream (a conversation turn) still ends with one :class:`Completion` per call, and
counts it here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import BaseModel

from service.errors import InvalidOutput, ProviderError
from service.ops.metrics import Metrics
from service.output.parse import parse_output
from service.provider.base import ChatRequest, Completion
from service.provider.chain import AllProvidersFailed, ProviderChain

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)


@dataclass
class Usage:
    """Calls and tokens one answer took, across its first call, a re-ask and a regeneration."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    def add(self, completion: Completion) -> None:
        self.calls += 1
        self.tokens_in += completion.tokens_in
        self.tokens_out += completion.tokens_out


def record_completion(metrics: Metrics, completion: Completion) -> None:
    """One answered chain call: the answering provider's call and tokens, and each provider that failed first."""
    metrics.llm_call(completion.provider, completion.model, "ok", completion.tokens_in, completion.tokens_out)
    for failed in completion.fallback_from:
        name, _, kind = failed.partition(":")
        metrics.llm_call(name, "", kind or "error")
        metrics.fallback(name, completion.provider)


def record_failures(metrics: Metrics, exc: AllProvidersFailed) -> None:
    """A chain call nobody answered: one failed call per provider, with how it failed."""
    for name, failure in exc.failures:
        metrics.llm_call(name, "", failure.kind)


@dataclass
class Asked(Generic[T]):
    """The parsed answer, or ``None`` when the model still did not comply after the re-ask."""

    value: T | None
    completion: Completion  # the call that produced ``value`` (the first call when there is none)
    # providers that failed before the first answer, and "<provider>:InvalidOutput" when value is None
    failed: list[str] = field(default_factory=list)


class Asker:
    """Calls ``chain`` for one pipeline and records every call in ``metrics``."""

    def __init__(self, chain: ProviderChain, metrics: Metrics) -> None:
        self.chain = chain
        self._metrics = metrics

    def _quality(self, provider: str, valid: bool) -> None:
        """Whether ``provider``'s answer kept the output contract (readiness reports mostly-invalid providers)."""
        quality = getattr(self.chain, "quality", None)
        if quality is not None:
            quality.record(provider, valid)

    def complete(self, chat: ChatRequest, usage: Usage) -> Completion:
        """One chain call, counted in the metrics and in ``usage``.

        :raises AllProvidersFailed: no provider answered (counted too).
        """
        try:
            completion = self.chain.complete(chat)
        except AllProvidersFailed as exc:
            record_failures(self._metrics, exc)
            raise
        record_completion(self._metrics, completion)
        usage.add(completion)
        return completion

    def structured(
        self,
        chat: ChatRequest,
        output: type[T],
        usage: Usage,
        *,
        reask: Callable[[str], str],
        problem: Callable[[T], str | None] = lambda _value: None,
        previous_chars: int = 4000,
    ) -> Asked[T]:
        """The chain's answer as ``output``: parsed with one repair, else re-asked once.

        ``reask(problem)`` words the follow-up message; ``problem(value)`` may refuse a value
        that parses (e.g. an empty list), naming what is wrong with it.

        :raises AllProvidersFailed: no provider answered the first call.
        """
        first = self.complete(chat, usage)
        failed = list(first.fallback_from)
        try:
            parsed = parse_output(first.text, output, provider=first.provider)
            if parsed.repaired:
                self._metrics.invalid_output.labels("repaired").inc()
            wrong = problem(parsed.value)
            if wrong is None:
                self._quality(first.provider, True)
                return Asked(parsed.value, first, failed)
        except InvalidOutput as exc:
            wrong = str(exc)
        self._quality(first.provider, False)
        self._metrics.invalid_output.labels("reask").inc()
        retry = chat.follow_up(first.text, reask(wrong), previous_chars=previous_chars)
        second: Completion | None = None
        try:
            second = self.complete(retry, usage)
            value = parse_output(second.text, output, provider=second.provider).value
            wrong = problem(value)
            if wrong is None:
                self._quality(second.provider, True)
                return Asked(value, second, failed)
        except ProviderError as exc:
            wrong = str(exc)
        if second is not None:
            self._quality(second.provider, False)
        self._metrics.invalid_output.labels("failed").inc()
        log.warning("model output invalid after re-ask", extra={"error": wrong})
        return Asked(None, first, [*failed, f"{first.provider}:InvalidOutput"])
