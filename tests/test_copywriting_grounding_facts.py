"""Product facts: what one product's data can back (service.copywriting.grounding.facts)."""

from __future__ import annotations

from service.catalog.product import Product
from service.copywriting.grounding import product_facts, unsupported_claims
from tests.support.claim_products import down_jacket, power_bank


def test_counts_are_backed_by_listed_attributes() -> None:
    product = power_bank()
    assert unsupported_claims("Available in 2 colors", product) == []
    assert unsupported_claims("两色可选", product) == []
    assert unsupported_claims("Available in 3 colors", product) == ["3 colors"]


def test_year_in_title_backs_a_year_claim() -> None:
    assert unsupported_claims("The 2025 edition", power_bank()) == []
    assert unsupported_claims("2024款", power_bank()) == ["2024款"]


def test_numeric_attribute_without_unit_backs_the_same_figure() -> None:
    product = power_bank(description="", title="Anker PowerCore", attributes={"capacity": 5000})
    assert unsupported_claims("5000mAh", product) == []
    assert unsupported_claims("6000mAh", product) == ["6000mAh"]


def test_chinese_product() -> None:
    product = down_jacket()
    ok = "2025款轻薄羽绒服，90%白鸭绒，蓬松度700，仅需299元，原价599元，三色可选，零下20度也不怕，仅重450克"
    assert unsupported_claims(ok, product) == []
    bad = "95%白鸭绒，蓬松度800，只要199元，零下40度"
    assert unsupported_claims(bad, product) == ["95%", "蓬松度800", "199元", "零下40度"]


def test_discount_implied_by_original_price() -> None:
    product = down_jacket()  # 299 of 599: 50.08% off
    assert unsupported_claims("限时五折", product) == []
    assert unsupported_claims("立减300元", product) == []
    assert unsupported_claims("打8折", product) == ["打8折"]
    assert unsupported_claims("半价入手", product) == []


def test_discount_written_in_the_data() -> None:
    product = power_bank(tags=["Spring sale 20% off"])
    assert unsupported_claims("Save 20% today", product) == []
    assert unsupported_claims("打8折", product) == []
    assert unsupported_claims("30% off", product) == ["30% off"]


def test_facts_are_collected_once_and_reused() -> None:
    facts = product_facts(down_jacket())
    assert facts.counts["count:color"] == {3}  # 颜色: three listed
    assert 599.0 in {m.value for m in facts.money}  # 原价 is a price
    assert any(abs(d - 50.08) < 0.01 for d in facts.discounts)  # 299 of 599
    assert unsupported_claims("三色可选，原价599元", facts) == []
    assert {m.currency for m in facts.money} == {"CNY"}


def test_unit_less_attribute_string_with_odd_commas_is_no_number() -> None:
    # "3,7" is no thousands grouping: not read as 37 (one number parser for the whole service)
    product = Product(id="p", title="Thing", attributes={"size": "3,7"})
    assert unsupported_claims("37 pcs", product) == ["37 pcs"]
