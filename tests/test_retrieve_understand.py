"""QueryUnderstanding: constraints read from the shopper's words, English and Chinese; merge_filters precedence."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.retrieve.filters import merge_filters
from service.retrieve.understand import APPROX_BAND, QueryUnderstanding, Understood
from service.validate.base import parse_body
from service.validate.recommend import Filters, RecommendRequest

CATEGORIES = [
    "Clothing/Outerwear/Down",
    "Clothing/Outerwear/Rain Jackets",
    "Clothing/Outerwear/Fleece",
    "Clothing/Tops/Hoodies",
    "Clothing/Socks",
    "Electronics/Computers/Laptops/Gaming",
    "Electronics/Computers/Laptops/Business",
    "Electronics/Computers/Accessories/Mice",
    "Electronics/Computers/Accessories/Monitors",
    "Electronics/Audio/Headphones",
    "Electronics/Audio/Earbuds",
    "Electronics/Phones/Power Banks",
    "Electronics/Phones/Smartphones",
    "Electronics/Phones/Cases",
    "Electronics/TV & Video",
    "Electronics/Cameras/Instant",
    "Electronics/Cameras/Action",
    "Shoes/Running",
    "Shoes/Running/Trail",
    "Shoes/Hiking",
    "Shoes/Casual",
    "Home/Kitchen/Coffee Machines",
    "Grocery/Coffee",
    "Grocery/Tea/Green Tea",
    "Grocery/Tea/Oolong",
    "Beauty/Skincare/Sunscreen",
    "Bags/Backpacks",
    "Bags/Laptop Bags",
    "Sports/Outdoor/Camping/Backpacks",
    "Sports/Outdoor/Camping/Tents",
]
BRANDS = ["Nike", "Adidas", "Sony", "Bose", "Under Armour", "The North Face", "Anker", "雪域", "茗山堂", "X", "7"]


@pytest.fixture(scope="module")
def qu() -> QueryUnderstanding:
    return QueryUnderstanding(CATEGORIES, BRANDS)


def _constraints(understood: Understood) -> dict[str, Any]:
    """Everything found except the cleaned query: compared whole, so nothing extra slips through."""
    found = understood.found()
    found.pop("cleaned_query", None)
    return found


def _band(value: float) -> dict[str, float]:
    return {"price_min": round(value * (1 - APPROX_BAND), 2), "price_max": round(value * (1 + APPROX_BAND), 2)}


USD = {"currency": "USD"}
CNY = {"currency": "CNY"}

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
    ("around $100", {**_band(100), **USD}),
    ("about 100 bucks", {**_band(100), **USD}),
    ("max 80 usd", {"price_max": 80.0, **USD}),
    ("80 usd max", {"price_max": 80.0, **USD}),
    ("budget of 500", {"price_max": 500.0}),
    ("my budget is around 800", _band(800)),
    ("under 1.5k", {"price_max": 1500.0}),
    ("$2k", {**_band(2000), **USD}),
    ("1-2k", {"price_min": 1000.0, "price_max": 2000.0}),
    ("no more than $50", {"price_max": 50.0, **USD}),
    ("not over 100 bucks", {"price_max": 100.0, **USD}),
    ("no less than 50 dollars", {"price_min": 50.0, **USD}),
    ("$50+", {"price_min": 50.0, **USD}),
    ("100 or less", {"price_max": 100.0}),
    ("$19.99 or under", {"price_max": 19.99, **USD}),
    ("a $200 jacket", {**_band(200), **USD, "category": "Clothing/Outerwear"}),
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
    ("300元左右", {**_band(300), **CNY}),
    ("300上下", _band(300)),
    ("500到1000元", {"price_min": 500.0, "price_max": 1000.0, **CNY}),
    ("一千元以下", {"price_max": 1000.0, **CNY}),
    ("两千块以内", {"price_max": 2000.0, **CNY}),
    ("三百五左右", _band(350)),
    ("两万以内", {"price_max": 20000.0}),
    ("1.5万以下", {"price_max": 15000.0}),
    ("预算1.5万", {"price_max": 15000.0}),
    ("预算3000", {"price_max": 3000.0}),
    ("预算3000左右", _band(3000)),
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
    ("200元的耳机", {**_band(200), **CNY, "category": "Electronics/Audio"}),
    ("１２００元以内", {"price_max": 1200.0, **CNY}),  # full-width digits
    ("羽绒服，200元以内", {"price_max": 200.0, **CNY, "category": "Clothing/Outerwear/Down"}),
]

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

CATEGORY_HINTS = [
    ("我想买一款适合冬天穿的羽绒服", "Clothing/Outerwear/Down"),
    ("down jacket", "Clothing/Outerwear/Down"),
    ("parka", "Clothing/Outerwear/Down"),
    ("rain jacket", "Clothing/Outerwear/Rain Jackets"),
    ("jacket for hiking", "Clothing/Outerwear"),
    ("笔记本", "Electronics/Computers/Laptops"),
    ("游戏本", "Electronics/Computers/Laptops"),
    ("gaming laptop", "Electronics/Computers/Laptops"),
    ("laptops", "Electronics/Computers/Laptops"),
    ("充电宝", "Electronics/Phones/Power Banks"),
    ("power bank", "Electronics/Phones/Power Banks"),
    ("5000mAh power bank", "Electronics/Phones/Power Banks"),
    ("耳机", "Electronics/Audio"),
    ("headphones", "Electronics/Audio"),
    ("跑步鞋", "Shoes/Running"),
    ("running shoes", "Shoes/Running"),
    ("trail running shoes", "Shoes/Running/Trail"),
    ("hiking shoes", "Shoes/Hiking"),
    ("咖啡机", "Home/Kitchen/Coffee Machines"),
    ("espresso machine", "Home/Kitchen/Coffee Machines"),
    ("防晒霜", "Beauty/Skincare/Sunscreen"),
    ("sunscreen", "Beauty/Skincare/Sunscreen"),
    ("茶叶", "Grocery/Tea"),
    ("green tea", "Grocery/Tea/Green Tea"),
    ("65寸电视", "Electronics/TV & Video"),
    ("tv", "Electronics/TV & Video"),
    ("instant camera", "Electronics/Cameras/Instant"),
    ("gaming mouse", "Electronics/Computers/Accessories/Mice"),
    ("tent for 3 people", "Sports/Outdoor/Camping/Tents"),
    ("laptop bag", "Bags/Laptop Bags"),
    ("phone case", "Electronics/Phones/Cases"),
    ("keyboard and mouse", "Electronics/Computers/Accessories/Mice"),
    # conservative: no category rather than a wrong one
    ("backpack", None),  # two places in the tree, nothing in common
    ("instant coffee", None),  # "Instant" alone is an adjective
    ("action figures", None),
    ("laptop sleeve", None),  # an accessory for a laptop, not a laptop
    ("case for laptop", None),
    ("笔记本电脑包", None),
    ("手机支架", None),
    ("running shoes and a rain jacket", None),  # two unrelated categories
    ("men's stuff", None),
    ("a gift", None),
]

BRAND_CASES = [
    ("I want Nike running shoes", "Nike"),
    ("NIKE", "Nike"),
    ("nikeland", None),
    ("耐克跑鞋", "Nike"),  # a known Chinese name of a catalog brand
    ("阿迪达斯", "Adidas"),
    ("雪域羽绒服", "雪域"),
    ("under armour hoodie", "Under Armour"),
    ("north face jacket", "The North Face"),
    ("sony or bose headphones", None),  # two brands: neither is a filter
    ("anything but Nike", None),
    ("x", None),  # one-letter and numeric catalog brands are not matched
    ("7 pack socks", None),
    ("华为手机", None),  # Huawei is not in this catalog
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


@pytest.mark.parametrize(("query", "expected"), PRICES_EN + PRICES_ZH + SOFT_PRICE + EXCLUSIONS)
def test_constraints(qu: QueryUnderstanding, query: str, expected: dict[str, Any]) -> None:
    assert _constraints(qu.parse(query)) == expected


@pytest.mark.parametrize(("query", "expected"), CATEGORY_HINTS)
def test_category(qu: QueryUnderstanding, query: str, expected: str | None) -> None:
    assert qu.parse(query).category == expected


@pytest.mark.parametrize(("query", "expected"), BRAND_CASES)
def test_brand(qu: QueryUnderstanding, query: str, expected: str | None) -> None:
    assert qu.parse(query).brand == expected


@pytest.mark.parametrize("query", NOT_PRICES)
def test_numbers_that_are_not_prices(qu: QueryUnderstanding, query: str) -> None:
    understood = qu.parse(query)
    assert (understood.price_min, understood.price_max, understood.currency) == (None, None, None)


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


@pytest.mark.parametrize(
    ("query", "in_stock"),
    [("in stock only", True), ("有现货吗", True), ("现货", True), ("even if out of stock", False), ("缺货也行", False),
     ("stockings", None)],
)
def test_in_stock(qu: QueryUnderstanding, query: str, in_stock: bool | None) -> None:
    assert qu.parse(query).in_stock is in_stock


def test_a_full_query_in_each_language(qu: QueryUnderstanding) -> None:
    en = qu.parse("Nike running shoes around $100, not the trail ones")
    assert _constraints(en) == {
        **_band(100), **USD, "brand": "Nike", "category": "Shoes/Running", "exclude_terms": ["trail ones"],
    }
    zh = qu.parse("想给我爸买个充电宝，两百块以内，不要Anker的")
    assert _constraints(zh) == {
        "price_max": 200.0, **CNY, "category": "Electronics/Phones/Power Banks",
        "exclude_terms": ["Anker"], "exclude_brands": ["Anker"],
    }


def test_category_hints_win_and_unknown_paths_are_ignored() -> None:
    qu = QueryUnderstanding(
        CATEGORIES,
        BRANDS,
        {"冲锋衣": "clothing/outerwear/rain jackets", "shell": "Clothing / Outerwear / Rain Jackets", "bogus": "No/Such"},
    )
    assert qu.parse("冲锋衣").category == "Clothing/Outerwear/Rain Jackets"  # the catalog's spelling
    assert qu.parse("a shell").category == "Clothing/Outerwear/Rain Jackets"
    assert qu.parse("bogus").category is None


def test_dictionary_words_need_the_category_in_the_catalog() -> None:
    qu = QueryUnderstanding(["Grocery/Snacks"], [])
    assert qu.parse("羽绒服").category is None
    assert qu.parse("laptop").category is None


def test_chinese_catalog_categories_match_as_written() -> None:
    qu = QueryUnderstanding(["服装/外套/羽绒服", "服装/外套/冲锋衣", "数码/耳机"], [])
    assert qu.parse("女款羽绒服").category == "服装/外套/羽绒服"
    assert qu.parse("降噪耳机").category == "数码/耳机"
    assert qu.parse("down jacket").category == "服装/外套/羽绒服"  # the dictionary also names Chinese segments


def test_brand_aliases_argument() -> None:
    qu = QueryUnderstanding([], ["Sonara"], brand_aliases={"声悦": "Sonara", "幽灵": "Nowhere"})
    assert qu.parse("声悦耳机").brand == "Sonara"
    assert qu.parse("幽灵").brand is None


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
    assert _constraints(understood) == {
        "price_max": 500.0, **CNY, "brand": "北境", "category": "Clothing/Outerwear/Down",
    }
    assert qu.parse("northpeak parka").brand == "Northpeak"


def test_understood_found_holds_only_what_was_found(qu: QueryUnderstanding) -> None:
    assert qu.parse("socks").found() == {"category": "Clothing/Socks", "cleaned_query": "socks"}
    assert Understood().found() == {}


# --- merge_filters -------------------------------------------------------------------------------


def _request_filters(body: str) -> Filters:
    return parse_body(RecommendRequest, body).filters


def test_merge_fills_what_the_client_did_not_send() -> None:
    explicit = _request_filters('{"query": "x"}')
    understood = Understood(price_min=100, price_max=300, category="Shoes/Running", brand="Nike", in_stock=False)
    merged = merge_filters(explicit, understood, explicit.model_fields_set)
    assert merged.model_dump(exclude={"currency", "exclude_brands", "exclude_terms"}) == {
        "price_min": 100, "price_max": 300, "category": "Shoes/Running", "brand": "Nike", "in_stock": False,
    }


def test_merge_explicit_fields_win() -> None:
    explicit = _request_filters(
        '{"query": "x", "filters": {"price_max": 150, "category": "Shoes", "brand": null, "in_stock": true}}'
    )
    understood = Understood(price_min=100, price_max=300, category="Shoes/Running", brand="Nike", in_stock=False)
    merged = merge_filters(explicit, understood, explicit.model_fields_set)
    assert merged.model_dump(exclude={"currency", "exclude_brands", "exclude_terms"}) == {
        "price_min": 100, "price_max": 150, "category": "Shoes", "brand": None, "in_stock": True,
    }


def test_merge_drops_understood_bounds_that_contradict_explicit_ones() -> None:
    explicit = _request_filters('{"query": "x", "filters": {"price_min": 500}}')
    merged = merge_filters(explicit, Understood(price_min=100, price_max=300), explicit.model_fields_set)
    assert (merged.price_min, merged.price_max) == (500, None)


def test_merge_ignores_prices_in_another_currency() -> None:
    explicit = _request_filters('{"query": "x"}')
    understood = Understood(price_max=200, currency="USD", category="Shoes")
    merged = merge_filters(explicit, understood, explicit.model_fields_set, catalog_currency="cny")
    assert (merged.price_max, merged.category) == (None, "Shoes")
    same = merge_filters(explicit, understood, explicit.model_fields_set, catalog_currency="USD")
    assert same.price_max == 200
    unknown = merge_filters(explicit, understood, explicit.model_fields_set)
    assert unknown.price_max == 200


def test_merge_with_parsed_query(qu: QueryUnderstanding) -> None:
    explicit = _request_filters('{"query": "x", "filters": {"brand": "Sony"}}')
    merged = merge_filters(explicit, qu.parse("耐克跑鞋 300元左右"), explicit.model_fields_set)
    assert merged.model_dump(exclude={"currency", "exclude_brands", "exclude_terms"}) == {
        **_band(300), "category": "Shoes/Running", "brand": "Sony", "in_stock": True,
    }


# --- any input --------------------------------------------------------------------------------------

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


def test_merge_turns_what_was_ruled_out_into_exclusions() -> None:
    explicit = _request_filters('{"query": "x"}')
    understood = Understood(exclude_terms=["rain jacket", "Nike"], exclude_brands=["Nike"])
    merged = merge_filters(explicit, understood, explicit.model_fields_set)
    assert merged.exclude_terms == ["rain jacket", "Nike"] and merged.exclude_brands == ["Nike"]
    explicit = _request_filters('{"query": "x", "filters": {"brand": "Nike", "exclude_terms": []}}')
    merged = merge_filters(explicit, understood, explicit.model_fields_set)
    assert merged.brand == "Nike" and merged.exclude_brands == [] and merged.exclude_terms == []


def test_merge_restricts_a_mixed_catalog_to_the_stated_currency() -> None:
    explicit = _request_filters('{"query": "x"}')
    understood = Understood(price_max=200, currency="CNY")
    assert merge_filters(explicit, understood, explicit.model_fields_set).currency == "CNY"
    single = merge_filters(explicit, understood, explicit.model_fields_set, catalog_currency="CNY")
    assert single.currency is None and single.price_max == 200
    other = merge_filters(explicit, understood, explicit.model_fields_set, catalog_currency="USD")
    assert other.currency is None and other.price_max is None
