"""What the shopper rules out (service.retrieve.understand.exclusions), English and Chinese."""

from __future__ import annotations

from typing import Any

import pytest

from service.retrieve.understand import QueryUnderstanding
from service.retrieve.understand.exclusions import read_exclusions
from tests.support.shop_words import BRANDS, CATEGORIES, constraints


@pytest.fixture(scope="module")
def qu() -> QueryUnderstanding:
    return QueryUnderstanding(CATEGORIES, BRANDS)


EXCLUSIONS = [
    ("not a rain jacket", {"exclude_terms": ["rain jacket"]}),
    ("no leather", {"exclude_terms": ["leather"]}),
    ("without sugar", {"exclude_terms": ["sugar"]}),
    ("anything but Nike", {"exclude_terms": ["Nike"], "exclude_brands": ["Nike"]}),
    ("except for Sony", {"exclude_terms": ["Sony"], "exclude_brands": ["Sony"]}),
    ("I don't want leather", {"exclude_terms": ["leather"]}),
    ("not red or blue", {"exclude_terms": ["red", "blue"]}),
    ("不要雨衣", {"exclude_terms": ["雨衣"]}),
    ("不要雨衣和冲锋衣", {"exclude_terms": ["雨衣", "冲锋衣"]}),
    ("不想要皮的", {"exclude_terms": ["皮"]}),
    ("除了耐克", {"exclude_terms": ["耐克"], "exclude_brands": ["Nike"]}),
    ("除了耐克还有什么牌子", {"exclude_terms": ["耐克"], "exclude_brands": ["Nike"]}),
    ("别推荐羽绒马甲", {"exclude_terms": ["羽绒马甲"]}),
    ("不要Nike的", {"exclude_terms": ["Nike"], "exclude_brands": ["Nike"]}),
    ("不要雪域的羽绒服", {"exclude_terms": ["雪域"], "exclude_brands": ["雪域"], "category": "Clothing/Outerwear/Down"}),
    ("不含糖", {"exclude_terms": ["糖"]}),
    # not exclusions
    ("not sure what to get", {}),
    ("not too heavy", {}),
    ("no-show socks", {"category": "Clothing/Socks"}),
    ("no more than two", {}),
    ("不要太大的", {}),
    ("我不要求品牌", {}),
    ("要不要防水的", {}),
    ("除了好看还要保暖", {}),  # "besides", not "except"
    ("特别推荐", {}),
]



@pytest.mark.parametrize(("query", "expected"), EXCLUSIONS)
def test_constraints(qu: QueryUnderstanding, query: str, expected: dict[str, Any]) -> None:
    assert constraints(qu.parse(query)) == expected


def test_read_exclusions_returns_terms_as_written_and_their_spans() -> None:
    text = "running shoes, not Nike or Adidas; 不要雪域的"
    terms, spans = read_exclusions(text)
    assert terms == ["Nike", "Adidas", "雪域"]
    assert [text[a:b] for a, b in spans] == ["not Nike or Adidas", "不要雪域的"]
