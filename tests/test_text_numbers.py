"""parse_number: Arabic, Chinese and mixed numbers as shoppers and copywriters write them, with the decimals written."""

from __future__ import annotations

import cn2an
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.text.numbers import Number, parse_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1500", 1500.0),
        ("1,500", 1500.0),
        ("1,500.50", 1500.5),
        ("19.99", 19.99),
        (".5", 0.5),
        ("1.5k", 1500.0),
        ("2K", 2000.0),
        ("1k", 1000.0),
        ("2千", 2000.0),
        ("1.5万", 15000.0),
        ("1.2亿", 120_000_000.0),
        ("一千", 1000.0),
        ("两千", 2000.0),
        ("三百五", 350.0),
        ("两百五", 250.0),
        ("一千五百", 1500.0),
        ("一万二", 12000.0),
        ("两万", 20000.0),
        ("十", 10.0),
        ("十五", 15.0),
        ("一百零五", 105.0),
        ("3千5", 3500.0),
        ("１２０", 120.0),  # full-width digits
        (" 300 ", 300.0),
    ],
)
def test_reads_numbers(text: str, expected: float) -> None:
    parsed = parse_number(text)
    assert parsed is not None and parsed.value == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "   ", "abc", "k", "一点", "千万", "二十块", "3-5", "12.5.3", "1,50", "iphone"])
def test_rejects_non_numbers(text: str) -> None:
    assert parse_number(text) is None


# -- as copy writes them (the grounding check's numbers) -------------------------------------------
@pytest.mark.parametrize(
    ("token", "value"),
    [("5,000", 5000), ("1.5万", 15000), ("两万", 20000), ("五千", 5000), ("一百二十", 120), ("两万五", 25000),
     ("一点五", 1.5), ("十", 10)],
)
def test_parse_number(token: str, value: float) -> None:
    parsed = parse_number(token)
    assert parsed is not None and parsed[0] == value


def test_parse_number_rejects_digit_runs_and_words() -> None:
    assert parse_number("三五") is None
    assert parse_number("千") is None


@given(st.integers(min_value=0, max_value=10**9))
def test_grouped_and_chinese_numerals_round_trip(n: int) -> None:
    assert parse_number(f"{n:,}") == (n, 0)
    assert parse_number(cn2an.an2cn(n)) == (n, 0)


@pytest.mark.parametrize(
    ("text", "decimals"),
    [("5", 0), ("4.8", 1), ("1,500.50", 2), ("1.5万", 1), ("1.5k", 1), ("一点五", 1), ("三点一四", 2), ("两万", 0), (".5", 1)],
)
def test_decimals_are_as_written(text: str, decimals: int) -> None:
    parsed = parse_number(text)
    assert parsed is not None and parsed.decimals == decimals


def test_a_number_is_a_value_and_its_decimals() -> None:
    assert parse_number("19.90") == Number(19.9, 2)
    value, decimals = parse_number("两千")  # unpacks like a tuple
    assert (value, decimals) == (2000.0, 0)


@pytest.mark.parametrize("text", ["三五", "一二三", "二〇二五", "一点", "点五", "1,50", "3,7", "71."])
def test_bare_digit_runs_and_half_numbers_are_rejected(text: str) -> None:
    assert parse_number(text) is None
