"""Price constraints read from the shopper's words (service.retrieve.understand.price), English and Chinese."""

from __future__ import annotations

from typing import Any

import pytest

from service.retrieve.understand import QueryUnderstanding
from service.retrieve.understand.price import read_prices
from tests.support.shop_words import BRANDS, CATEGORIES, CNY, USD, band, constraints


@pytest.fixture(scope="module")
def qu() -> QueryUnderstanding:
    return QueryUnderstanding(CATEGORIES, BRANDS)


PRICES_EN = [
    ("under $200", {"price_max": 200.0, **USD}),
    ("below 200 dollars", {"price_max": 200.0, **USD}),
    ("less than $1,500", {"price_max": 1500.0, **USD}),
    ("<$50", {"price_max": 50.0, **USD}),
    ("$100-$300", {"price_min": 100.0, "price_max": 300.0, **USD}),
    ("between 100 and 300 dollars", {"price_min": 100.0, "price_max": 300.0, **USD}),
    ("between 100 and 300", {"price_min": 100.0, "price_max": 300.0}),
    ("from $100 to $300", {"price_min": 100.0, "price_max": 300.0, **USD}),
    ("price range 100-200", {"price_min": 100.0, "price_max": 200.0}),
    ("over $50", {"price_min": 50.0, **USD}),
    ("at least $20", {"price_min": 20.0, **USD}),
    ("around $100", {**band(100), **USD}),
    ("about 100 bucks", {**band(100), **USD}),
    ("max 80 usd", {"price_max": 80.0, **USD}),
    ("80 usd max", {"price_max": 80.0, **USD}),
    ("budget of 500", {"price_max": 500.0}),
    ("my budget is around 800", band(800)),
    ("under 1.5k", {"price_max": 1500.0}),
    ("$2k", {**band(2000), **USD}),
    ("1-2k", {"price_min": 1000.0, "price_max": 2000.0}),
    ("no more than $50", {"price_max": 50.0, **USD}),
    ("not over 100 bucks", {"price_max": 100.0, **USD}),
    ("no less than 50 dollars", {"price_min": 50.0, **USD}),
    ("$50+", {"price_min": 50.0, **USD}),
    ("100 or less", {"price_max": 100.0}),
    ("$19.99 or under", {"price_max": 19.99, **USD}),
    ("a $200 jacket", {**band(200), **USD, "category": "Clothing/Outerwear"}),
    ("over $50 but under $100", {"price_min": 50.0, "price_max": 100.0, **USD}),
    ("under $50 and over $100", USD),  # contradictory: no bound is trusted
    ("€80 or less", {"price_max": 80.0, "currency": "EUR"}),
]


PRICES_ZH = [
    ("200元以内", {"price_max": 200.0, **CNY}),
    ("200块以下", {"price_max": 200.0, **CNY}),
    ("200元内", {"price_max": 200.0, **CNY}),
    ("不超过300元", {"price_max": 300.0, **CNY}),
    ("不要超过300块", {"price_max": 300.0, **CNY}),
    ("300元左右", {**band(300), **CNY}),
    ("300上下", band(300)),
    ("500到1000元", {"price_min": 500.0, "price_max": 1000.0, **CNY}),
    ("一千元以下", {"price_max": 1000.0, **CNY}),
    ("两千块以内", {"price_max": 2000.0, **CNY}),
    ("三百五左右", band(350)),
    ("两万以内", {"price_max": 20000.0}),
    ("1.5万以下", {"price_max": 15000.0}),
    ("预算1.5万", {"price_max": 15000.0}),
    ("预算3000", {"price_max": 3000.0}),
    ("预算3000左右", band(3000)),
    ("1k以内", {"price_max": 1000.0}),
    ("2千以内", {"price_max": 2000.0}),
    ("价格在100-200之间", {"price_min": 100.0, "price_max": 200.0}),
    ("在100和200之间", {"price_min": 100.0, "price_max": 200.0}),
    ("100~200元", {"price_min": 100.0, "price_max": 200.0, **CNY}),
    ("500元以上", {"price_min": 500.0, **CNY}),
    ("至少500元", {"price_min": 500.0, **CNY}),
    ("200元起", {"price_min": 200.0, **CNY}),
    ("¥300以内", {"price_max": 300.0, **CNY}),
    ("￥300以内", {"price_max": 300.0, **CNY}),  # full-width yen
    ("300rmb以内", {"price_max": 300.0, **CNY}),
    ("100美元以下", {"price_max": 100.0, **USD}),
    ("200元的耳机", {**band(200), **CNY, "category": "Electronics/Audio"}),
    ("１２００元以内", {"price_max": 1200.0, **CNY}),  # full-width digits
    ("羽绒服，200元以内", {"price_max": 200.0, **CNY, "category": "Clothing/Outerwear/Down"}),
]


NOT_PRICES = [
    "iphone 15 case",
    "32 inch monitor",
    '27" monitor',
    "2 pack socks",
    "5000mAh power bank",
    "iPhone 15 手机壳",
    "65寸电视",
    "laptop under 15 inch",
    "at least 16gb ram",
    "over 50 years old",
    "within 30 days",
    "up to 64GB",
    "3-5 person tent",
    "ages 3-5",
    "4k tv",
    "under 4k tv",
    "2k monitor",
    "between 2 and 3 people",
    "500W以上的吹风机",
    "不超过1万毫安",
    "1万毫安充电宝",
    "3年以上",
    "一款羽绒服",
    "一个便宜一点的",
    "千万不要买错",
    "2020 macbook",
    "size 8-10",
    "5G手机",
    "50+ colors",
]


@pytest.mark.parametrize(("query", "expected"), PRICES_EN + PRICES_ZH)
def test_constraints(qu: QueryUnderstanding, query: str, expected: dict[str, Any]) -> None:
    assert constraints(qu.parse(query)) == expected


@pytest.mark.parametrize("query", NOT_PRICES)
def test_numbers_that_are_not_prices(qu: QueryUnderstanding, query: str) -> None:
    understood = qu.parse(query)
    assert (understood.price_min, understood.price_max, understood.currency) == (None, None, None)



def test_bare_chinese_digit_runs_are_no_price(qu: QueryUnderstanding) -> None:
    # 三五元 is "three to five yuan", not 35 (the one number parser's rule, shared with grounding)
    assert constraints(qu.parse("三五元的袜子")) == {"category": "Clothing/Socks"}
    assert constraints(qu.parse("五元的袜子")) == {**band(5), **CNY, "category": "Clothing/Socks"}


def test_read_prices_returns_the_spans_it_read() -> None:
    text = "a jacket under $200 please"
    found, spans = read_prices(text)
    assert found == {"price_max": 200.0, "currency": "USD"}
    assert [text[a:b].strip() for a, b in spans] == ["under $200"]
    assert read_prices("socks") == ({}, [])
