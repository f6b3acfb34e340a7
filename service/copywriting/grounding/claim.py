"""A claim: one factual statement found in copy, with the rounding it is compared within."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

ClaimKind = Literal["quantity", "money", "amount_off", "discount", "multiplier", "count", "year", "spec"]
Comparator = Literal["eq", "le", "ge"]


@dataclass(frozen=True)
class Claim:
    """One factual claim found in a text. ``value`` is in the dimension's base unit.

    ``currency`` (money claims) is the ISO code the marker means where the product is priced
    (:func:`service.text.currency.currency_of`); None when no currency was written.
    """

    text: str
    kind: ClaimKind
    dimension: str
    value: float | str
    literal: float = math.nan
    tolerance: float = 0.0
    literal_tolerance: float = 0.0
    comparator: Comparator = "eq"
    currency: str | None = None
    start: int = 0
    end: int = 0


def numeric_claim(
    text: str,
    kind: ClaimKind,
    dimension: str,
    literal: float,
    decimals: int,
    *,
    factor: float = 1.0,
    relative: bool = False,
    comparator: Comparator = "eq",
    currency: str | None = None,
) -> Claim:
    """A numeric claim: ``literal`` as written in its unit, ``factor`` to the base unit.

    Tolerance is half a unit of the last written digit (rounding). For
    ``relative`` claims (measured quantities) rounding may move the figure by at
    most 2%, so "2kg" is not 1.5 kg, and conversions between unit systems get
    0.5% (15.6 in = 39.6 cm).
    """
    value = literal * factor
    literal_tol = 0.5 * 10.0 ** (-decimals)
    if relative:
        literal_tol = min(literal_tol, 0.02 * abs(literal))
    tol = literal_tol * factor
    if relative:
        tol = max(tol, 0.005 * abs(value))
    return Claim(
        text=text,
        kind=kind,
        dimension=dimension,
        value=value,
        literal=literal,
        tolerance=tol,
        literal_tolerance=literal_tol,
        comparator=comparator,
        currency=currency,
    )
