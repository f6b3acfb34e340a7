"""Product facts: everything in one product's data that can back a claim, collected once per product.

Read are the title, description, brand, category, tags, attribute keys and values (nested mappings and
lists too), price and currency. Claims found in those texts are facts of their kind; a numeric attribute
is a quantity in the unit its key names (``capacity_mah: 5000``), a price when its key names one
(``original_price``, ``原价``, ...), a discount when its key names one, else a bare number; a listed
attribute counts its items (``colors: [black, white]`` is 2 colors); an original price above the price
implies a discount and an amount off. Money in the product's texts has the currency its marker means for
this product's own currency (:mod:`service.text.currency`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.catalog.product import Product
from service.copywriting.grounding.extract import extract_claims, numbers_in
from service.copywriting.grounding.units import COUNT_KEY_WORDS, key_unit
from service.text.numbers import parse_number

# Attribute keys that hold a price before discount.
_ORIGINAL_PRICE_KEY = re.compile(
    r"original|list|compare|msrp|rrp|was|regular|retail|strike|原价|划线|市场价|吊牌|专柜|零售价", re.IGNORECASE
)
_PRICE_KEY = re.compile(r"price|cost|价", re.IGNORECASE)
_MSRP_KEY = re.compile(r"msrp|rrp", re.IGNORECASE)
_DISCOUNT_KEY = re.compile(r"discount|sale|off|promo|折扣|优惠|促销", re.IGNORECASE)


@dataclass(frozen=True)
class Money:
    """A money figure in the product data and its currency (None when the data does not say)."""

    value: float
    currency: str | None


@dataclass
class ProductFacts:
    """Everything in one product's data that can back a claim. Build with :func:`product_facts`."""

    product: Product
    quantities: dict[str, list[float]] = field(default_factory=dict)
    money: list[Money] = field(default_factory=list)
    discounts: list[float] = field(default_factory=list)
    amounts_off: list[float] = field(default_factory=list)
    multipliers: list[float] = field(default_factory=list)
    counts: dict[str, set[int]] = field(default_factory=dict)
    specs: set[str] = field(default_factory=set)
    numbers: set[float] = field(default_factory=set)
    bare_numbers: set[float] = field(default_factory=set)


def _as_number(value: Any) -> float | None:
    """An attribute value that is a number: a finite int/float, or a string holding only one ("5,000")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9][0-9,]*(?:\.[0-9]+)?\s*", value):
        parsed = parse_number(value)
        return parsed[0] if parsed else None
    return None


class _FactBuilder:
    """Collects one product's facts: its texts, attributes (nested, listed, numeric) and price."""

    def __init__(self, product: Product) -> None:
        self.facts = ProductFacts(product)
        self.currency = product.currency
        self.original_prices: list[float] = []

    def text(self, text: str, *, discount_context: bool = False) -> None:
        facts = self.facts
        facts.numbers |= numbers_in(text)
        for claim in extract_claims(text, currency=self.currency):
            if claim.kind in ("quantity", "count") and isinstance(claim.value, float):
                if claim.kind == "count":
                    facts.counts.setdefault(claim.dimension, set()).add(int(claim.value))
                facts.quantities.setdefault(claim.dimension, []).append(claim.value)
                if discount_context and claim.dimension == "percent":
                    facts.discounts.append(claim.value)
            elif claim.kind == "money" and isinstance(claim.value, float):
                facts.money.append(Money(claim.value, claim.currency))
            elif claim.kind == "amount_off" and isinstance(claim.value, float):
                facts.amounts_off.append(claim.value)
                facts.money.append(Money(claim.value, claim.currency))
            elif claim.kind == "discount" and isinstance(claim.value, float):
                facts.discounts.append(claim.value)
            elif claim.kind == "multiplier" and isinstance(claim.value, float):
                facts.multipliers.append(claim.value)
            elif claim.kind == "spec":
                facts.specs.add(str(claim.value))

    def attribute(self, key: str, value: Any) -> None:
        self.text(key)
        if isinstance(value, Mapping):
            for sub_key, sub_value in value.items():
                self.attribute(f"{key} {sub_key}", sub_value)
            return
        if isinstance(value, (list, tuple, set, frozenset)):
            items = [v for v in value if v not in (None, "")]
            self._count_items(key, len(items))
            for item in items:
                self.attribute(key, item)
            return
        number = _as_number(value)
        if number is not None:
            self._number_attribute(key, number)
            return
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,，、/|;；]", value) if p.strip()]
            if len(parts) > 1:
                self._count_items(key, len(parts))
            self.text(value, discount_context=bool(_DISCOUNT_KEY.search(key)))

    def _count_items(self, key: str, n: int) -> None:
        low = key.lower()
        for cls, words in COUNT_KEY_WORDS.items():
            if any(w in low for w in words):
                self.facts.counts.setdefault(f"count:{cls}", set()).add(n)

    def _number_attribute(self, key: str, number: float) -> None:
        facts = self.facts
        facts.numbers.add(number)
        if _ORIGINAL_PRICE_KEY.search(key) and (_PRICE_KEY.search(key) or _MSRP_KEY.search(key)):
            self.original_prices.append(number)
            facts.money.append(Money(number, self.currency))
            return
        if _PRICE_KEY.search(key):
            facts.money.append(Money(number, self.currency))
            return
        if _DISCOUNT_KEY.search(key) and 1 < number < 100:
            facts.discounts.append(number)
        unit = key_unit(key)
        if unit is not None:
            dim, factor = unit
            facts.quantities.setdefault(dim, []).append(number * factor)
        else:
            facts.bare_numbers.add(number)

    def build(self) -> ProductFacts:
        p = self.facts.product
        for text in (p.title, p.description, p.brand, p.category, *p.tags):
            if text:
                self.text(text, discount_context=False)
        for tag in p.tags:
            if _DISCOUNT_KEY.search(tag):
                self.text(tag, discount_context=True)
        for key, value in p.attributes.items():
            self.attribute(str(key), value)
        if p.price is not None:
            self.facts.money.append(Money(float(p.price), self.currency))
            self.facts.numbers.add(float(p.price))
            for original in self.original_prices:
                if original > p.price > 0:
                    self.facts.discounts.append(100 * (1 - p.price / original))
                    self.facts.amounts_off.append(original - p.price)
        return self.facts


def product_facts(product: Product) -> ProductFacts:
    """Collect what ``product``'s data can back, once, for checking many texts."""
    return _FactBuilder(product).build()
