"""A claim's value and the rounding it is compared within (service.copywriting.grounding.claim)."""

from __future__ import annotations

import math

import pytest

from service.copywriting.grounding.claim import numeric_claim


def test_tolerance_is_half_a_unit_of_the_last_written_digit() -> None:
    assert numeric_claim("4.8 stars", "quantity", "rating", 4.8, 1).tolerance == pytest.approx(0.05)
    assert numeric_claim("$199", "money", "money", 199, 0).tolerance == pytest.approx(0.5)
    assert numeric_claim("$199.00", "money", "money", 199, 2).tolerance == pytest.approx(0.005)


def test_measured_quantities_round_by_at_most_two_percent_and_convert_within_half_a_percent() -> None:
    two_kg = numeric_claim("2kg", "quantity", "mass", 2, 0, factor=1000, relative=True)
    assert two_kg.value == 2000 and two_kg.literal == 2
    assert two_kg.tolerance == pytest.approx(40)  # 2% of 2 kg, not half a kilogram
    screen = numeric_claim('15.6"', "quantity", "length", 15.6, 1, factor=25.4, relative=True)
    assert screen.tolerance == pytest.approx(0.005 * 15.6 * 25.4)  # unit conversions: 0.5%


def test_claim_keeps_comparator_and_currency() -> None:
    claim = numeric_claim("under ¥200", "money", "money", 200, 0, comparator="le", currency="CNY")
    assert (claim.comparator, claim.currency, claim.kind) == ("le", "CNY", "money")
    assert not math.isnan(claim.literal)
