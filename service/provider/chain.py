"""Try providers in order until one answers within the request's deadline.

The chain is itself a provider: it returns the first answer and records, in
``Completion.fallback_from``, which providers failed before it and how.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.errors import ProviderError, ProviderUnavailable
from service.provider.base import ChatRequest, Completion, Provider


class AllProvidersFailed(ProviderError):
    """Every provider in the chain failed; ``failures`` says how, in order."""

    def __init__(self, failures: list[tuple[str, ProviderError]], *, deadline_exceeded: bool) -> None:
        summary = "; ".join(f"{name}: {exc}" for name, exc in failures) or "no providers configured"
        super().__init__(f"no provider could answer ({summary})", provider="chain")
        self.failures = failures
        self.deadline_exceeded = deadline_exceeded


class ProviderChain:
    """Providers in order of preference; the first to answer wins."""

    name = "chain"

    def __init__(self, providers: Sequence[Provider]) -> None:
        self.providers = list(providers)

    @property
    def primary(self) -> str | None:
        return self.providers[0].name if self.providers else None

    def fingerprint(self, endpoint: str) -> str:
        """What identifies the chain's answers in cache keys: names and models, in order."""
        parts = []
        for provider in self.providers:
            info = provider.describe()
            model = info.get(f"{endpoint}_model") or info.get("model", "")
            parts.append(f"{provider.name}:{model}:{info.get('response_format', '')}")
        return ">".join(parts)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "providers": [p.describe() for p in self.providers]}

    def complete(self, request: ChatRequest) -> Completion:
        """The first provider's answer that arrives in time.

        :raises AllProvidersFailed: when none could answer.
        """
        failures: list[tuple[str, ProviderError]] = []
        for provider in self.providers:
            if request.remaining() <= 0:
                failures.append((provider.name, ProviderUnavailable("deadline passed", provider=provider.name)))
                continue
            try:
                completion = provider.complete(request)
            except ProviderError as exc:
                failures.append((provider.name, exc))
                continue
            completion.fallback_from = [f"{name}:{exc.kind}" for name, exc in failures]
            return completion
        raise AllProvidersFailed(failures, deadline_exceeded=request.remaining() <= 0)
