"""service/ops/cost.py: USD per 1M tokens by model, matched by the longest priced prefix."""

from __future__ import annotations

from service.ops.cost import PriceTable


def test_price_table_prefixes() -> None:
    prices = PriceTable({"house": (1.0, 1.0)})
    assert prices.price("gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert prices.price("gpt-4o-2024-08-06") == (2.50, 10.00)
    assert prices.price("openai/gpt-4.1-mini") == (0.40, 1.60)
    assert prices.price("house") == (1.0, 1.0)
    assert prices.price("SmolLM2-135M-Instruct") is None
    assert prices.cost("unknown", 1000, 1000) is None
