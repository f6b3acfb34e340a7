"""The catalog's categories and brands named in a query (service.retrieve.understand.catalog_terms)."""

from __future__ import annotations

import pytest

from service.retrieve.understand import QueryUnderstanding
from service.retrieve.understand.catalog_terms import BrandIndex, CategoryIndex
from tests.support.shop_words import BRANDS, CATEGORIES


@pytest.fixture(scope="module")
def qu() -> QueryUnderstanding:
    return QueryUnderstanding(CATEGORIES, BRANDS)


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


@pytest.mark.parametrize(("query", "expected"), CATEGORY_HINTS)
def test_category(qu: QueryUnderstanding, query: str, expected: str | None) -> None:
    assert qu.parse(query).category == expected


@pytest.mark.parametrize(("query", "expected"), BRAND_CASES)
def test_brand(qu: QueryUnderstanding, query: str, expected: str | None) -> None:
    assert qu.parse(query).brand == expected


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


def test_brand_index_ignores_punctuation_but_not_spacing() -> None:
    brands = BrandIndex(["Levi's", "Dr. Martens", "The North Face"], {})
    assert brands.brands_in("levi’s 501 jeans") == ["Levi's"]  # a curly apostrophe, as phones type it
    assert brands.brands_in("dr martens boots") == ["Dr. Martens"]
    assert brands.brands_in("northface") == []  # run together: not matched (see the module docstring)


def test_category_index_reads_one_category_or_none() -> None:
    categories = CategoryIndex(CATEGORIES, {})
    assert categories.category_in("a power bank please") == "Electronics/Phones/Power Banks"
    assert categories.category_in("laptop bag") == "Bags/Laptop Bags"
    assert categories.category_in("socks and a tent") is None
