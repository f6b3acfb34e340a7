"""QueryUnderstanding runs the readers in order over one query and composes Understood (retrieve.understand.query)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.retrieve.filters import merge_filters
from service.retrieve.understand import QueryUnderstanding, Understood
from service.validate.recommend import Filters
from tests.support.shop_words import BRANDS, CATEGORIES, CNY, USD, band, constraints


@pytest.fixture(scope="module")
def qu() -> QueryUnderstanding:
    return QueryUnderstanding(CATEGORIES, BRANDS)


@pytest.mark.parametrize(
    ("query", "cleaned"),
    [
        ("a gaming laptop under $1500", "a gaming laptop"),
        ("a jacket for hiking, not a rain jacket, under $200", "a jacket for hiking"),
        ("running shoes, but not Nike", "running shoes"),
        ("我想要跑鞋，不要耐克的", "我想要跑鞋"),
        ("200元以内的耳机", "耳机"),
        ("预算3000左右的笔记本, 不要太贵的", "笔记本"),
        ("cheap laptop in stock", "laptop"),
        ("I want Nike running shoes", "I want Nike running shoes"),  # brand and category words stay: they rank
        ("under $50", "under $50"),  # nothing else left: the whole query
    ],
)
def test_cleaned_query(qu: QueryUnderstanding, query: str, cleaned: str) -> None:
    assert qu.parse(query).cleaned_query == cleaned


def test_a_full_query_in_each_language(qu: QueryUnderstanding) -> None:
    en = qu.parse("Nike running shoes around $100, not the trail ones")
    assert constraints(en) == {
        **band(100), **USD, "brand": "Nike", "category": "Shoes/Running", "exclude_terms": ["trail ones"],
    }
    zh = qu.parse("想给我爸买个充电宝，两百块以内，不要Anker的")
    assert constraints(zh) == {
        "price_max": 200.0, **CNY, "category": "Electronics/Phones/Power Banks",
        "exclude_terms": ["Anker"], "exclude_brands": ["Anker"],
    }


def test_from_catalog() -> None:
    catalog = Catalog.of(
        [
            Product(id="1", title="Down jacket", category="Clothing/Outerwear/Down", brand="Northpeak", price=300),
            Product(id="2", title="Rain jacket", category="Clothing/Outerwear/Rain Jackets", brand="北境", price=200),
            Product(id="3", title="No category", brand="", price=1),
        ]
    )
    qu = QueryUnderstanding.from_catalog(catalog)
    understood = qu.parse("北境的羽绒服 500元以内")
    assert constraints(understood) == {
        "price_max": 500.0, **CNY, "brand": "北境", "category": "Clothing/Outerwear/Down",
    }
    assert qu.parse("northpeak parka").brand == "Northpeak"


def test_understood_found_holds_only_what_was_found(qu: QueryUnderstanding) -> None:
    assert qu.parse("socks").found() == {"category": "Clothing/Socks", "cleaned_query": "socks"}
    assert Understood().found() == {}


_PIECES = st.sampled_from(
    ["under ", "not ", "no ", "between ", " and ", " or ", "around ", "$", "¥", "k", "预算", "以内", "以上", "左右", "元",
     "块", "不要", "除了", "别推荐", "和", "的", "，", "-", "~", "两千", "三百五", "1.5万", "Nike", "耐克", "羽绒服",
     "laptop", "bag", " "]
)


_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=6), st.integers(0, 100_000).map(str)), max_size=30).map("".join)


@settings(max_examples=300, deadline=None)
@given(query=_TEXT)
def test_any_query_parses_into_consistent_constraints(qu: QueryUnderstanding, query: str) -> None:
    understood = qu.parse(query)
    if understood.price_min is not None and understood.price_max is not None:
        assert understood.price_min <= understood.price_max
    assert understood.category is None or any(c == understood.category or c.startswith(understood.category + "/")
                                              for c in CATEGORIES)
    assert understood.brand is None or understood.brand in BRANDS
    assert understood.brand not in understood.exclude_brands
    assert set(understood.exclude_brands) <= set(BRANDS)
    # whatever was read must be usable as filters
    merge_filters(Filters(), understood, set())
