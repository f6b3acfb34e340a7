"""Cheap, premium and stock wishes read from the shopper's words (service.retrieve.understand.flags)."""

from __future__ import annotations

from typing import Any

import pytest

from service.retrieve.understand import QueryUnderstanding
from service.retrieve.understand.flags import read_flags
from tests.support.shop_words import BRANDS, CATEGORIES, USD, constraints


@pytest.fixture(scope="module")
def qu() -> QueryUnderstanding:
    return QueryUnderstanding(CATEGORIES, BRANDS)


SOFT_PRICE = [
    ("便宜点", {"cheap": True}),
    ("便宜一点的", {"cheap": True}),
    ("实惠的耳机", {"cheap": True, "category": "Electronics/Audio"}),
    ("不要太贵的", {"cheap": True}),
    ("别太贵", {"cheap": True}),
    ("千万别买贵的", {"cheap": True}),
    ("cheap headphones", {"cheap": True, "category": "Electronics/Audio"}),
    ("budget laptop", {"cheap": True, "category": "Electronics/Computers/Laptops"}),
    ("something affordable", {"cheap": True}),
    ("nothing too expensive", {"cheap": True}),
    ("cheap, under $50", {"cheap": True, "price_max": 50.0, **USD}),
    ("性价比高", {}),  # value for money is not "cheap": it stays a ranking word
    ("性价比高的耳机 500以内", {"price_max": 500.0, "category": "Electronics/Audio"}),
    ("贵不贵", {}),
    ("贵一点没关系", {"premium": True}),
    ("贵点也没关系", {"premium": True}),
    ("高端", {"premium": True}),
    ("不差钱", {"premium": True}),
    ("不要便宜货", {"premium": True}),
    ("premium headphones", {"premium": True, "category": "Electronics/Audio"}),
    ("luxury", {"premium": True}),
    ("high-end", {"premium": True}),
    ("price doesn't matter", {"premium": True}),
    ("旗舰店", {}),  # the flagship *store* is not a premium wish
]



@pytest.mark.parametrize(("query", "expected"), SOFT_PRICE)
def test_constraints(qu: QueryUnderstanding, query: str, expected: dict[str, Any]) -> None:
    assert constraints(qu.parse(query)) == expected


@pytest.mark.parametrize(
    ("query", "in_stock"),
    [("in stock only", True), ("有现货吗", True), ("现货", True), ("even if out of stock", False), ("缺货也行", False),
     ("stockings", None)],
)
def test_in_stock(qu: QueryUnderstanding, query: str, in_stock: bool | None) -> None:
    assert qu.parse(query).in_stock is in_stock



def test_read_flags_returns_the_spans_it_read() -> None:
    text = "cheap laptop in stock"
    found, spans = read_flags(text)
    assert found == {"cheap": True, "in_stock": True}
    assert [text[a:b] for a, b in spans] == ["cheap", "in stock"]
