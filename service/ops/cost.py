"""Estimated provider cost from token counts and per-model prices."""

from __future__ import annotations

from collections.abc import Mapping

# USD per 1M input / output tokens, as published by OpenAI; estimates only:
# override or extend with SHOPGUIDE_MODEL_PRICES when prices or models change.
DEFAULT_MODEL_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "gpt-3.5-turbo": (0.50, 1.50),
}
PER_TOKENS = 1_000_000


class PriceTable:
    """Per-model prices; a model matches its exact name, else its longest priced prefix ending at ``-``."""

    def __init__(self, overrides: Mapping[str, tuple[float, float]] | None = None) -> None:
        self._prices = {**DEFAULT_MODEL_PRICES, **(overrides or {})}
        self._resolved: dict[str, tuple[float, float] | None] = {}

    def price(self, model: str) -> tuple[float, float] | None:
        """(input, output) USD per 1M tokens, or None when the model is not priced."""
        if model in self._resolved:
            return self._resolved[model]
        name = model.rsplit("/", 1)[-1]  # "openai/gpt-4o-mini" as routers and vLLM name it
        found = self._prices.get(model) or self._prices.get(name)
        if found is None:
            prefixes = [p for p in self._prices if name.startswith(p + "-")]
            found = self._prices[max(prefixes, key=len)] if prefixes else None
        self._resolved[model] = found
        return found

    def cost(self, model: str, tokens_in: int, tokens_out: int) -> float | None:
        """Estimated USD for one call; None when the model is not priced."""
        price = self.price(model)
        if price is None:
            return None
        return (tokens_in * price[0] + tokens_out * price[1]) / PER_TOKENS
