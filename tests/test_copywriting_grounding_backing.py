"""Backing: whether the product data holds each claim in copy (service.copywriting.grounding.backing)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.catalog.product import Product
from service.copywriting.grounding import extract_claims, is_backed, product_facts, unsupported_claims
from service.copywriting.schema import CopyVariant
from tests.support.claim_products import power_bank


@pytest.mark.parametrize("text", ["10000mAh of power", "高达10000毫安", "两万毫安大容量", "1万毫安时"])
def test_invented_capacity_is_flagged(text: str) -> None:
    assert unsupported_claims(text, power_bank()) != []


@pytest.mark.parametrize(
    "text",
    ["5,000 mAh in your pocket", "5000mAh", "5000毫安", "五千毫安时", "5000 毫安时", "5Ah", "５０００ｍＡｈ"],
)
def test_same_capacity_in_any_notation_is_backed(text: str) -> None:
    assert unsupported_claims(text, power_bank()) == []


def test_invented_discount_is_flagged_and_returned_as_written() -> None:
    assert unsupported_claims("Today only: 50% off!", power_bank()) == ["50% off"]


def test_price_matches_within_rounding_and_currency() -> None:
    product = power_bank()
    assert unsupported_claims("Yours for only $199.", product) == []
    assert unsupported_claims("Only $199.00, ships today", product) == []
    assert unsupported_claims("Grab it for $149", product) == ["$149"]
    # ¥ is CNY or JPY, never USD
    assert unsupported_claims("仅需¥199", product) == ["¥199"]


def test_variant_is_scanned_field_by_field() -> None:
    variant = CopyVariant(
        headline="5000mAh in your pocket",
        body="Charge twice as fast with 18W PD. Now 30% off.",
        bullets=["Weighs just 150 g", "Available in 2 colors", "IPX4 splash resistant"],
        cta="Buy for $199",
    )
    assert unsupported_claims(variant, power_bank()) == ["30% off"]


def test_claims_repeat_only_once_in_the_result() -> None:
    assert unsupported_claims("10000mAh! Yes, 10000mAh.", power_bank()) == ["10000mAh"]


def test_comparisons_hold_against_the_data() -> None:
    product = power_bank()
    assert unsupported_claims("under $200", product) == []
    assert unsupported_claims("under $150", product) == ["under $150"]
    assert unsupported_claims("不到200美元", product) == []
    assert unsupported_claims("over 12 months of warranty", product) == []
    assert unsupported_claims("超过2年质保", product) == ["超过2年"]


def test_multipliers_and_specs() -> None:
    product = Product(
        id="p", title="Earbuds", description="Charges 2x faster. Bluetooth 5.3, IPX7, 4K video.", price=59.0
    )
    assert unsupported_claims("2倍速充电，蓝牙5.3，IPX7防水，4K", product) == []
    assert unsupported_claims("3x faster, Bluetooth 5.4, IP68", product) == ["3x", "Bluetooth 5.4", "IP68"]


def test_price_without_currency_in_data_matches_any_currency() -> None:
    product = Product(id="p", title="Mug", price=25.0)
    assert unsupported_claims("$25", product) == []
    assert unsupported_claims("25元", product) == []
    assert unsupported_claims("€30", product) == ["€30"]


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=10**6))
def test_different_charges_are_flagged(a: int, b: int) -> None:
    product = Product(id="p", title="Power bank", description=f"{a}mAh battery")
    claim = f"{b}mAh"
    backed = abs(a - b) <= max(min(0.5, 0.02 * b), 0.005 * b)
    assert (unsupported_claims(claim, product) == []) is backed


@given(st.integers(min_value=1, max_value=10**7))
def test_prices_match_to_the_cent(cents: int) -> None:
    product = Product(id="p", title="Thing", price=cents / 100, currency="USD")
    assert unsupported_claims(f"${cents / 100:,.2f}", product) == []
    assert unsupported_claims(f"${(cents + 100) / 100:,.2f}", product) != []


@given(st.text(max_size=80))
def test_any_text_can_be_checked(text: str) -> None:
    unsupported_claims(text, power_bank())


def test_is_backed_one_claim() -> None:
    facts = product_facts(power_bank())
    capacity, price = extract_claims("5000mAh for $199")
    assert is_backed(capacity, facts) and is_backed(price, facts)
    (bigger,) = extract_claims("6000mAh")
    assert not is_backed(bigger, facts)
