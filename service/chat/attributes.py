"""Attribute values a message names ("要黑色的", "in black", "merino"), and numeric attributes that relative
refinements compare ("lighter", "bigger screen", "续航更长").

Query understanding reads price, brand, category, stock and exclusions; attributes are what it leaves, so
they are read here, against the catalog's own attribute values (only the groups below: a colour or a
material named in a message means that attribute; a size letter or a gender character would match too
much). A product meets an attribute constraint when one of its values in that group is the value named.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from service.catalog.product import Product
from service.retrieve.filters import fold
from service.text.script import has_han

# group -> the attribute keys holding it
GROUPS: dict[str, tuple[str, ...]] = {
    "colors": ("colors", "color", "colour", "colours"),
    "material": ("material", "shell_material", "upper_material", "fabric"),
}

# dimension -> (attribute key, factor to the dimension's unit); a product's value is the first key it has
DIMENSIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "weight": (("weight_g", 1.0), ("net_weight_g", 1.0), ("weight_kg", 1000.0)),
    "screen": (("screen_in", 1.0),),
    "battery_life": (("battery_life_h", 1.0), ("battery_life_days", 24.0)),
    "battery": (("battery_mah", 1.0), ("capacity_mAh", 1.0)),
    "storage": (("storage_gb", 1.0),),
    "warmth": (("comfort_temp_c", 1.0),),  # lower is warmer
}


def _values(product: Product, keys: Iterable[str]) -> list[str]:
    out: list[str] = []
    for key in keys:
        value = product.attributes.get(key)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, (list, tuple)):
            out.extend(v for v in value if isinstance(v, str))
    return out


def measure(product: Product, dimension: str) -> float | None:
    """The product's value on ``dimension`` (``price`` included), or None when its data has none."""
    if dimension == "price":
        return product.price
    for key, factor in DIMENSIONS.get(dimension, ()):
        value = product.attributes.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) * factor
    return None


class AttributeIndex:
    """The catalog's attribute values per group, to find the ones a message names."""

    def __init__(self, products: Iterable[Product]) -> None:
        values: dict[str, dict[str, str]] = {group: {} for group in GROUPS}
        for product in products:
            for group, keys in GROUPS.items():
                for value in _values(product, keys):
                    folded = fold(value)
                    if len(folded) >= (2 if has_han(folded) else 3):
                        values[group].setdefault(folded, value)
        # longest first, so "深灰色" wins over "灰色"
        self._patterns: list[tuple[str, str, re.Pattern[str]]] = []
        for group, found in values.items():
            for folded, value in sorted(found.items(), key=lambda kv: -len(kv[0])):
                pattern = re.escape(folded) if has_han(folded) else rf"(?<![^\W\d_]){re.escape(folded)}(?![^\W\d_])"
                self._patterns.append((group, value, re.compile(pattern)))

    def named(self, text: str) -> tuple[dict[str, str], list[tuple[int, int]]]:
        """The attribute values ``text`` names, one per group, and where (to blank them out)."""
        low = fold(text)
        found: dict[str, str] = {}
        spans: list[tuple[int, int]] = []
        for group, value, pattern in self._patterns:
            if group in found:
                continue
            match = pattern.search(low)
            if match:
                found[group] = value
                spans.append(match.span())
        return found, spans


def has_attribute(product: Product, group: str, value: str) -> bool:
    wanted = fold(value)
    return any(fold(v) == wanted for v in _values(product, GROUPS.get(group, (group,))))
