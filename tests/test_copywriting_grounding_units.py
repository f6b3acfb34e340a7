"""Units and counted nouns: any notation of one quantity is the same claim (service.copywriting.grounding.units)."""

from __future__ import annotations

import cn2an
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.catalog.product import Product
from service.copywriting.grounding import unsupported_claims
from service.copywriting.grounding.units import count_class, key_unit, unit_of
from tests.support.claim_products import power_bank


@pytest.mark.parametrize(
    ("data", "copy"),
    [
        ("Weighs 1.5 kg", "only 1500g"),
        ("Weighs 1500g", "just 1.5kg"),
        ("Weighs 1.5 kg", "1.5公斤"),
        ("Weighs 1.5 kg", "3斤"),
        ("Weighs 1.5 kg", "3.3 lbs"),
        ('15.6" display', "15.6 inch display"),
        ('15.6" display', "15.6英寸大屏"),
        ('15.6" display', "15.6-inch"),
        ("15.6 inch display", "39.6 cm"),
        ("500 ml bottle", "0.5L"),
        ("500 ml bottle", "500毫升"),
        ("1 year warranty", "12 months"),
        ("1 year warranty", "12个月质保"),
        ("Up to 20 hours of play", "续航20小时"),
        ("144Hz screen", "144 Hz"),
        ("1TB SSD", "1000GB"),
        ("65W charger", "65瓦"),
        ("Rated to -30°C", "零下30度"),
        ("Rated to -30°C", "-30℃"),
        ("800 fill power goose down", "蓬松度800"),
        ("48MP camera", "4800万像素"),
        ("30×20×10 cm", "30 x 20 x 10cm"),
    ],
)
def test_units_normalize(data: str, copy: str) -> None:
    product = Product(id="p", title="Product", description=data)
    assert unsupported_claims(copy, product) == []


@pytest.mark.parametrize(
    ("data", "copy", "flagged"),
    [
        ("Weighs 1.5 kg", "only 1.2kg", "1.2kg"),
        ("Weighs 1.5 kg", "1600g", "1600g"),
        ("Weighs 1.5 kg", "2kg", "2kg"),
        ("18 months warranty", "2 year warranty", "2 year"),
        ('15.6" display', "17英寸屏", "17英寸"),
        ("1 year warranty", "2年质保", "2年"),
        ("144Hz screen", "165Hz", "165Hz"),
        ("65W charger", "100W", "100W"),
        ("Up to 20 hours of play", "30 hours", "30 hours"),
        ("30×20×10 cm", "40×20×10cm", "40×20×10cm"),
    ],
)
def test_other_quantities_are_flagged(data: str, copy: str, flagged: str) -> None:
    product = Product(id="p", title="Product", description=data)
    assert unsupported_claims(copy, product) == [flagged]


def test_attribute_key_names_the_unit() -> None:
    product = power_bank(description="", title="Anker PowerCore", attributes={"capacity_mah": "20000"})
    assert unsupported_claims("2万毫安", product) == []
    assert unsupported_claims("20Ah", product) == []
    assert unsupported_claims("20,000 mAh", product) == []
    assert unsupported_claims("25000mAh", product) == ["25000mAh"]


@given(st.integers(min_value=1, max_value=200_000))
def test_mah_and_ah_are_the_same_charge(n: int) -> None:
    product = Product(id="p", title="Power bank", attributes={"capacity_mah": n})
    amp_hours = f"{n // 1000}.{n % 1000:03d}Ah"
    assert unsupported_claims(amp_hours, product) == []
    assert unsupported_claims(f"{n:,} mAh", product) == []
    assert unsupported_claims(f"{cn2an.an2cn(n)}毫安时", product) == []


@given(st.integers(min_value=1, max_value=10**7))
def test_grams_and_kilograms_agree(grams: int) -> None:
    product = Product(id="p", title="Bag", attributes={"weight_g": grams})
    kilos = f"{grams // 1000}.{grams % 1000:03d}kg"
    assert unsupported_claims(kilos, product) == []


@pytest.mark.parametrize(
    ("text", "unit"),
    [("mAh", ("charge", 1)), ("MAH", ("charge", 1)), ("毫安时", ("charge", 1)), ("fl oz", ("volume", 29.5735295625)),
     ("fl-oz", ("volume", 29.5735295625)), ("g", ("mass", 1)), ("G", None), ("M", None), ("英寸", ("length", 25.4))],
)
def test_unit_of_is_case_sensitive_only_where_a_letter_means_two_things(
    text: str, unit: tuple[str, float] | None
) -> None:
    assert unit_of(text) == unit


def test_count_class_and_key_unit() -> None:
    assert (count_class("Colors"), count_class("双"), count_class("reasons")) == ("color", "pair", None)
    assert key_unit("capacity_mah") == ("charge", 1)
    assert key_unit("重量(kg)") == ("mass", 1000)
    assert key_unit("电池容量毫安时") == ("charge", 1)
    assert key_unit("color") is None
