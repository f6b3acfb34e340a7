"""parse_number: Arabic, Chinese and mixed numbers as shoppers and copywriters write them, with the decimals written."""

from __future__ import annotations

import pytest

from service.text.numbers import parse_number


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
