"""The constraints in force in a conversation, and how one turn changes them.

Query understanding (:mod:`service.retrieve.understand`) reads each message; this module only composes
what it read with what the conversation already holds: a later value replaces an earlier one (a new
budget, another brand), exclusions accumulate, a category that is not a refinement of the current one
starts a new subject (its topic words, brand, budget and attributes go), and lifts (:mod:`.reading`)
remove a constraint. :meth:`Constraints.understood` turns the whole state back into an
:class:`~service.retrieve.understand.Understood`, so :func:`service.retrieve.filters.merge_filters` builds
the retrieval filters from it exactly as for a single request, explicit ``filters`` still winning.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from service.retrieve.filters import category_segments
from service.retrieve.understand import Understood

TOPIC_TURNS = 3  # the words of the last few browsing turns make up what retrieval searches for

Lift = Literal["brand", "price", "price_max", "price_min", "category", "attributes", "exclusions"]


class Bound(BaseModel):
    """A relative refinement on a numeric attribute ("lighter" than 320 g): ``dimension`` ``op`` ``value``."""

    dimension: str
    op: Literal["lt", "gt"]
    value: float


class Constraints(BaseModel):
    """What every product shown in this conversation must meet (and what it prefers)."""

    price_min: float | None = None
    price_max: float | None = None
    currency: str | None = None
    category: str | None = None
    brand: str | None = None
    exclude_brands: list[str] = Field(default_factory=list)
    exclude_terms: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict, description='Attribute values asked for, e.g. {"colors": "黑色"}.')
    bounds: list[Bound] = Field(default_factory=list, description='Relative refinements: "lighter", "bigger screen".')
    cheap: bool = False
    premium: bool = False
    in_stock: bool | None = None
    topic: list[str] = Field(default_factory=list, description="What the shopper is looking for, in their words.")

    def understood(self) -> Understood:
        """The state as query understanding's result, for :func:`merge_filters`."""
        return Understood(
            price_min=self.price_min,
            price_max=self.price_max,
            currency=self.currency,
            cheap=self.cheap,
            premium=self.premium,
            category=self.category,
            brand=self.brand,
            exclude_terms=list(self.exclude_terms),
            exclude_brands=list(self.exclude_brands),
            in_stock=self.in_stock,
            cleaned_query=self.search_text(),
        )

    def search_text(self) -> str:
        return " ".join([*self.topic, *self.attributes.values()]).strip()

    def found(self) -> dict[str, Any]:
        """Only what is in force (the response's ``understood``)."""
        return self.model_dump(exclude_defaults=True)

    def empty(self) -> bool:
        return not any(
            (self.price_min, self.price_max, self.category, self.brand, self.attributes, self.bounds, self.topic)
        )


def _refines(new: str, old: str) -> bool:
    """Whether category ``new`` is ``old`` or below it (or above it: "electronics" after "headphones")."""
    a, b = category_segments(new), category_segments(old)
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def advance(
    current: Constraints,
    understood: Understood,
    *,
    lifts: set[str],
    attributes: dict[str, str],
    topic: str | None,
) -> Constraints:
    """The constraints after one message: ``understood`` is what query understanding read in it, ``lifts`` the
    constraints it lifts, ``attributes`` the attribute values it names, ``topic`` its words for retrieval (None:
    the message only refines or points)."""
    c = current.model_copy(deep=True)
    u = understood
    if u.category and c.category and not _refines(u.category, c.category):
        # Another subject: what described the last one no longer applies; what was ruled out still is.
        c = Constraints(exclude_brands=c.exclude_brands, exclude_terms=c.exclude_terms, in_stock=c.in_stock)
    if "brand" in lifts:
        c.brand = None
        brands = {b.casefold() for b in c.exclude_brands}
        c.exclude_brands = []
        c.exclude_terms = [t for t in c.exclude_terms if t.casefold() not in brands]
    if "price" in lifts or u.premium:
        c.price_min = c.price_max = None
        c.cheap = False
    if "price_max" in lifts:
        c.price_max = None
        c.cheap = False
        c.bounds = [b for b in c.bounds if b.dimension != "price"]
    if "price_min" in lifts:
        c.price_min = None
    if "category" in lifts:
        c.category = None
    if "attributes" in lifts:
        c.attributes = {}
        c.bounds = []
    if "exclusions" in lifts:
        c.exclude_terms = []
        c.exclude_brands = []

    if u.price_min is not None or u.price_max is not None:
        if u.price_max is not None:
            c.price_max = u.price_max
            if c.price_min is not None and c.price_min > u.price_max and u.price_min is None:
                c.price_min = None
        if u.price_min is not None:
            c.price_min = u.price_min
            if c.price_max is not None and c.price_max < u.price_min and u.price_max is None:
                c.price_max = None
        c.currency = u.currency or c.currency
    if u.category:
        # a narrower category replaces a broader one; a broader one named later keeps the narrower
        if not c.category or len(category_segments(u.category)) >= len(category_segments(c.category)):
            c.category = u.category
    for brand in u.exclude_brands:
        if brand.casefold() not in {b.casefold() for b in c.exclude_brands}:
            c.exclude_brands.append(brand)
        if c.brand and c.brand.casefold() == brand.casefold():
            c.brand = None
    if u.brand:
        c.brand = u.brand
        c.exclude_brands = [b for b in c.exclude_brands if b.casefold() != u.brand.casefold()]
    excluded_brands = {b.casefold() for b in c.exclude_brands}
    for term in u.exclude_terms:
        if term not in c.exclude_terms and term.casefold() not in excluded_brands:
            c.exclude_terms.append(term)
    if u.cheap:
        c.cheap, c.premium = True, False
    if u.premium:
        c.premium, c.cheap = True, False
    if u.in_stock is not None:
        c.in_stock = u.in_stock
    c.attributes.update(attributes)
    if topic:
        c.topic = [*c.topic, topic][-TOPIC_TURNS:]
    return c
