"""Claim extraction: what is a claim in copy, its kind, value and span (service.copywriting.grounding.extract)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.copywriting.grounding import extract_claims, unsupported_claims
from tests.support.claim_products import power_bank


@pytest.mark.parametrize(
    "text",
    [
        "24/7 support",
        "Fits iPhone 15 and Galaxy S24",
        "3 easy steps",
        "Anker PowerCore 5000 is here",
        "一年四季都能用",
        "一键开关，一天一充",
        "618大促",
        "三五天就到",
        "第一次用就爱上",
    ],
)
def test_numbers_that_are_no_claims(text: str) -> None:
    assert unsupported_claims(text, power_bank()) == []


def test_extracted_claims_carry_kind_and_span() -> None:
    text = "Only $199 for 10,000mAh — 50% off, 3倍快充"
    claims = extract_claims(text)
    assert [(c.kind, text[c.start : c.end]) for c in claims] == [
        ("money", "$199"),
        ("quantity", "10,000mAh"),
        ("discount", "50% off"),
        ("multiplier", "3倍"),
    ]


def test_full_width_forms_are_reported_as_written() -> None:
    assert unsupported_claims("仅需￥１４９", power_bank(currency="CNY")) == ["￥１４９"]


def test_model_names_glued_to_letters_are_not_claims() -> None:
    assert extract_claims("X200W router, RTX4090") == []


@given(st.integers(min_value=1, max_value=9))
def test_zhe_is_the_share_paid(v: int) -> None:
    claims = extract_claims(f"全场{v}折")
    assert [c.value for c in claims] == [pytest.approx(100 - 10 * v)]


def test_resolution_with_decimal_and_pressure() -> None:
    assert [(c.text, c.value) for c in extract_claims("2.8K OLED, 15-bar pump")] == [
        ("2.8K", "res:2.8K"),
        ("15-bar", 1_500_000.0),
    ]


_COPY_ALPHABET = st.sampled_from(
    list("0123456789,.%$¥￥xX×-~+ 　\"'") + list("零〇一二两三四五六七八九十百千万亿点第折倍合")
    + ["mAh", "kg", "g", "GB", "W", "小时", "年", "元", "off", "save ", "under ", "不到", "以上", "毫安", "色",
       "colors", "IP6", "蓝牙", "K", "p", "款", "零下", "百分之", "打", "蓬松度", "已售", "pack of "]
)


@given(st.lists(_COPY_ALPHABET, max_size=30).map("".join))
def test_extraction_never_fails_and_spans_point_into_the_text(text: str) -> None:
    for claim in extract_claims(text):
        assert 0 <= claim.start < claim.end <= len(text)
        assert text[claim.start : claim.end] in claim.text


def test_long_digit_runs_scan_in_linear_time() -> None:
    import time

    started = time.perf_counter()
    for text in ("9" * 20000, "八" * 20000, "1," * 10000):
        assert extract_claims(text) == []
    assert time.perf_counter() - started < 2.0  # quadratic backtracking took ~20 s here


def test_money_claims_carry_the_currency_their_marker_means_for_the_product() -> None:
    assert [c.currency for c in extract_claims("¥299, 299元, $5, US$5, 5 EUR, 5块")] == ["CNY", "CNY", "USD", "USD", "EUR", "CNY"]
    assert [c.currency for c in extract_claims("¥299, 299元, $5", currency="JPY")] == ["JPY", "CNY", "USD"]
    assert [c.currency for c in extract_claims("$5, 5 dollars", currency="CAD")] == ["CAD", "CAD"]
