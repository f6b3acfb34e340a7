"""Backing: whether a product's facts hold a claim, and the claims in copy they do not hold.

Rules (the package docstring has them in full): the same dimension after unit normalization, equal
within the claim's own rounding or 0.5% (unit conversions), prices only within rounding; bounds
("under", "以上") compare as bounds; money matches the currency when both sides name one.
"""

from __future__ import annotations

import math

from service.catalog.product import Product
from service.copywriting.grounding.claim import Claim
from service.copywriting.grounding.extract import extract_claims
from service.copywriting.grounding.facts import Money, ProductFacts, product_facts
from service.copywriting.grounding.units import COMPATIBLE
from service.copywriting.schema import CopyVariant


def _holds(data: float, claim: Claim) -> bool:
    assert isinstance(claim.value, float)
    eps = 1e-9 * max(1.0, abs(claim.value))
    if claim.comparator == "eq":
        return abs(data - claim.value) <= claim.tolerance + eps
    # A bound is not rounded ("over 2 years" excludes 18 months); only unit conversion slack applies.
    slack = eps + (0.005 * abs(claim.value) if claim.kind == "quantity" else 0.0)
    if claim.comparator == "le":
        return data <= claim.value + slack
    return data >= claim.value - slack


def _literal_holds(data: float, claim: Claim) -> bool:
    if claim.comparator != "eq" or math.isnan(claim.literal):
        return False
    return abs(data - claim.literal) <= claim.literal_tolerance + 1e-9 * max(1.0, abs(claim.literal))


def _same_currency(claim: Claim, money: Money) -> bool:
    """A side that names no currency matches any (the data often holds a bare price)."""
    return claim.currency is None or money.currency is None or claim.currency == money.currency


def is_backed(claim: Claim, facts: ProductFacts) -> bool:
    """Whether the product data holds ``claim`` (see the package docstring for the rules)."""
    if claim.kind == "spec":
        return claim.value in facts.specs
    if not isinstance(claim.value, float):
        return False
    if claim.kind == "money":
        return any(_holds(m.value, claim) and _same_currency(claim, m) for m in facts.money)
    if claim.kind == "amount_off":
        return any(_holds(v, claim) for v in facts.amounts_off) or any(
            _holds(m.value, claim) and _same_currency(claim, m) for m in facts.money
        )
    if claim.kind == "discount":
        return any(_holds(v, claim) for v in facts.discounts)
    if claim.kind == "multiplier":
        return any(_holds(v, claim) for v in facts.multipliers)
    if claim.kind == "year":
        return any(_holds(v, claim) for v in facts.numbers)
    dims = {claim.dimension} | COMPATIBLE.get(claim.dimension, frozenset())
    if any(_holds(v, claim) for d in dims for v in facts.quantities.get(d, ())):
        return True
    if claim.kind == "count" and any(_holds(float(v), claim) for v in facts.counts.get(claim.dimension, ())):
        return True
    if claim.kind == "quantity" and claim.dimension == "percent":
        if any(_holds(v, claim) for v in facts.discounts):
            return True
    return any(_literal_holds(v, claim) for v in facts.bare_numbers)


def unsupported_claims(text_or_variant: str | CopyVariant, product: Product | ProductFacts) -> list[str]:
    """The claims in the copy that the product data does not back, as written, each once."""
    text = text_or_variant.text() if isinstance(text_or_variant, CopyVariant) else text_or_variant
    facts = product if isinstance(product, ProductFacts) else product_facts(product)
    out: list[str] = []
    for claim in extract_claims(text, currency=facts.product.currency):
        if claim.text not in out and not is_backed(claim, facts):
            out.append(claim.text)
    return out
