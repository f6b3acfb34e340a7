"""Hard filters: the per-product predicate and the vectorized mask over a catalog, with the same semantics.

Semantics (every retriever honours them):

- ``price_min`` / ``price_max``: inclusive bounds; a product without a price fails any price bound.
  Currencies are not converted.
- ``category``: a case-insensitive prefix on whole path segments: ``Clothing/Outerwear`` matches
  ``Clothing/Outerwear`` and ``Clothing/Outerwear/Down`` but not ``Clothing/Outerwears``.
- ``brand``: case-insensitive exact match.
- ``in_stock``: when true (the default) only products in stock.
- ``currency``: only products priced in that currency (a product without a currency fails it).
- ``exclude_brands``: case-insensitive exact brand matches are left out.
- ``exclude_terms``: phrases matched against analyzed product names; they need the analyzer, so the
  lexical index applies them (:meth:`LexicalIndex.exclusion_mask`), not this module.

Labels compare after NFKC and case folding, so full-width ``ＮＩＫＥ`` equals ``nike``. A blank
``category`` or ``brand`` constrains nothing.

:func:`merge_filters` builds the filters a request retrieves with, from the client's filters and what
query understanding read in the shopper's words.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from service.catalog.product import Product
from service.validate.recommend import Filters

if TYPE_CHECKING:
    from service.retrieve.understand import Understood


def fold(label: str) -> str:
    """A label as filters compare it: NFKC, case-folded, outer whitespace stripped."""
    return unicodedata.normalize("NFKC", label).casefold().strip()


def category_segments(path: str) -> tuple[str, ...]:
    """``" Clothing / Outerwear/ "`` -> ``("clothing", "outerwear")``."""
    return tuple(seg for seg in (fold(s) for s in path.split("/")) if seg)


def passes(product: Product, filters: Filters) -> bool:
    """Whether one product passes ``filters``."""
    if filters.in_stock and not product.in_stock:
        return False
    if filters.price_min is not None or filters.price_max is not None:
        if product.price is None:
            return False
        if filters.price_min is not None and product.price < filters.price_min:
            return False
        if filters.price_max is not None and product.price > filters.price_max:
            return False
    if filters.brand and fold(filters.brand) and fold(product.brand) != fold(filters.brand):
        return False
    if filters.currency and product.currency != filters.currency:
        return False
    if filters.exclude_brands and fold(product.brand) in {fold(b) for b in filters.exclude_brands}:
        return False
    wanted = category_segments(filters.category or "")
    if wanted and category_segments(product.category)[: len(wanted)] != wanted:
        return False
    return True


class FilterMask:
    """Per-catalog arrays that turn :class:`Filters` into a boolean mask over product positions."""

    def __init__(self, products: Sequence[Product]) -> None:
        n = len(products)
        self.size = n
        self._in_stock = _frozen(np.fromiter((p.in_stock for p in products), dtype=bool, count=n))
        self._price = _frozen(
            np.fromiter((np.nan if p.price is None else p.price for p in products), dtype=np.float64, count=n)
        )
        # Catalogs repeat a few brands and categories many times: fold each distinct label once.
        by_brand: dict[str, list[int]] = {}
        by_category: dict[str, list[int]] = {}
        for i, p in enumerate(products):
            by_brand.setdefault(p.brand, []).append(i)
            by_category.setdefault(p.category, []).append(i)
        self._brand_codes: dict[str, int] = {}
        brand = np.empty(n, dtype=np.int32)
        for label, where in by_brand.items():
            brand[where] = self._brand_codes.setdefault(fold(label), len(self._brand_codes))
        self._brand = _frozen(brand)
        self._currency_codes: dict[str | None, int] = {}
        self._currency = _frozen(
            np.fromiter((self._currency_codes.setdefault(p.currency, len(self._currency_codes)) for p in products), np.int32, n)
        )
        prefixes: dict[tuple[str, ...], list[int]] = {}
        for path, where in by_category.items():
            segments = category_segments(path)
            for depth in range(1, len(segments) + 1):
                prefixes.setdefault(segments[:depth], []).extend(where)
        self._category = {prefix: _frozen(np.asarray(pos, dtype=np.int64)) for prefix, pos in prefixes.items()}

    def mask(self, filters: Filters) -> np.ndarray | None:
        """Boolean array, true where the product passes; ``None`` when ``filters`` constrain nothing.

        The array may be shared and is read-only.
        """
        parts: list[np.ndarray] = []
        if filters.in_stock:
            parts.append(self._in_stock)
        if filters.price_min is not None or filters.price_max is not None:
            with np.errstate(invalid="ignore"):  # NaN (no price) compares false: it fails the bound
                lo = self._price >= filters.price_min if filters.price_min is not None else None
                hi = self._price <= filters.price_max if filters.price_max is not None else None
            parts.append(lo & hi if lo is not None and hi is not None else lo if lo is not None else hi)
        brand = fold(filters.brand or "")
        if brand:
            code = self._brand_codes.get(brand)
            parts.append(self._brand == code if code is not None else np.zeros(self.size, dtype=bool))
        if filters.currency:
            code = self._currency_codes.get(filters.currency)
            parts.append(self._currency == code if code is not None else np.zeros(self.size, dtype=bool))
        excluded = [self._brand_codes[b] for b in {fold(b) for b in filters.exclude_brands} if b in self._brand_codes]
        if excluded:
            parts.append(~np.isin(self._brand, excluded))
        wanted = category_segments(filters.category or "")
        if wanted:
            in_category = np.zeros(self.size, dtype=bool)
            hits = self._category.get(wanted)
            if hits is not None:
                in_category[hits] = True
            parts.append(in_category)
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        combined = np.logical_and.reduce(parts)
        combined.flags.writeable = False
        return combined


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def merge_filters(
    explicit: Filters,
    understood: Understood,
    explicit_fields: set[str] | frozenset[str],
    *,
    catalog_currency: str | None = None,
) -> Filters:
    """The filters to retrieve with: fields the client sent win; the shopper's words fill the others.

    ``explicit_fields`` is ``filters.model_fields_set`` of the request. ``catalog_currency`` is the one
    currency of a single-currency catalog (None for a mixed one). Understood price bounds are not used
    when they are in another currency than a single-currency catalog's (there is no conversion), nor when
    they contradict an explicit bound; in a mixed catalog, a bound stated in a currency also restricts the
    answer to products priced in it. What the shopper ruled out becomes ``exclude_terms`` and
    ``exclude_brands``; cheap/premium stay preferences, not filters.
    """
    data = explicit.model_dump()
    currency_ok = not (
        catalog_currency and understood.currency and understood.currency != catalog_currency.strip().upper()
    )
    if currency_ok:
        taken = []
        for name in ("price_min", "price_max"):
            value = getattr(understood, name)
            if name not in explicit_fields and value is not None:
                data[name] = value
                taken.append(name)
        if data["price_min"] is not None and data["price_max"] is not None and data["price_min"] > data["price_max"]:
            for name in taken:
                data[name] = getattr(explicit, name)
            taken = []
        if taken and understood.currency and not catalog_currency and "currency" not in explicit_fields:
            data["currency"] = understood.currency
    for name in ("category", "brand", "in_stock"):
        value = getattr(understood, name)
        if name not in explicit_fields and value is not None:
            data[name] = value
    for name in ("exclude_terms", "exclude_brands"):
        if name not in explicit_fields and getattr(understood, name):
            data[name] = list(getattr(understood, name))
    if data["brand"] and "brand" in explicit_fields:  # the client's brand wins over a brand the words ruled out
        data["exclude_brands"] = [b for b in data["exclude_brands"] if b.casefold() != data["brand"].casefold()]
    return Filters.model_validate(data)
