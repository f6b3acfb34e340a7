"""The embedded demo catalog: loads cleanly and covers what tests and demos search for."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable

import pytest

from service.catalog.load import Catalog, demo_catalog_path, load_catalog
from service.catalog.product import Product

ID_PATTERN = re.compile(r"^SG-[A-Z]{3}-\d{4}$")
CJK = re.compile(r"[\u4e00-\u9fff]")
# A number followed by a unit, in a description; it must be one of the product's own values.
UNIT_NUMBER = re.compile(
    r"(\d[\d,]*(?:\.\d+)?)\s*(?:mAh|mm|kg|g\b|GB|W\b|Wh|Hz|ml|L\b|cm|°C|℃|°F|dB|Pa|MP|lumens|流明)"
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(None, strict=True)


@pytest.fixture(scope="module")
def products(catalog: Catalog) -> tuple[Product, ...]:
    return catalog.products


def _numbers(value: object) -> set[float]:
    if isinstance(value, bool):
        return set()
    if isinstance(value, (int, float)):
        return {abs(float(value))}
    if isinstance(value, dict):
        return set().union(*(_numbers(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(_numbers(v) for v in value)) if value else set()
    return {abs(float(n.replace(",", ""))) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", str(value))}


def test_loads_in_strict_mode_with_no_rejected_rows(catalog: Catalog) -> None:
    assert catalog.report.errors == []
    assert catalog.report.ignored_columns == []
    assert catalog.report.loaded == catalog.report.rows == len(catalog)
    assert len(catalog) >= 300


def test_every_line_of_the_file_is_a_product() -> None:
    lines = [ln for ln in demo_catalog_path().read_text(encoding="utf-8").splitlines() if ln.strip()]
    ids = [json.loads(ln)["id"] for ln in lines]
    assert len(ids) == len(set(ids)) == len(load_catalog(None))


def test_ids_are_unique_and_sku_like(products: tuple[Product, ...]) -> None:
    ids = [p.id for p in products]
    assert len(ids) == len(set(ids))
    assert all(ID_PATTERN.match(i) for i in ids), [i for i in ids if not ID_PATTERN.match(i)]


def test_titles_are_unique(products: tuple[Product, ...]) -> None:
    dupes = [t for t, n in Counter(p.title for p in products).items() if n > 1]
    assert dupes == []


def test_both_languages_with_matching_currency(products: tuple[Product, ...]) -> None:
    langs = Counter(p.lang for p in products)
    assert set(langs) == {"en", "zh"}
    assert 0.45 <= langs["en"] / len(products) <= 0.65
    for p in products:
        assert p.price is not None and p.price > 0, p.id
        assert p.currency == ("USD" if p.lang == "en" else "CNY"), p.id
        assert bool(CJK.search(p.title)) == (p.lang == "zh"), p.id


def test_every_field_is_filled(products: tuple[Product, ...]) -> None:
    for p in products:
        assert p.description and p.category and p.brand, p.id
        assert p.attributes and p.tags, p.id
        assert p.url == f"https://shop.example.com/p/{p.id}"
        assert p.image_url == f"https://img.shop.example.com/{p.id}.jpg"
        if p.lang == "zh":
            assert any(CJK.search(t) for t in p.tags), f"{p.id}: Chinese listing needs Chinese tags"


def test_about_a_tenth_is_out_of_stock(products: tuple[Product, ...]) -> None:
    share = sum(not p.in_stock for p in products) / len(products)
    assert 0.05 <= share <= 0.15


def test_spread_over_categories_and_brands(products: tuple[Product, ...]) -> None:
    second_level = {"/".join(p.category.split("/")[:2]) for p in products}
    top_level = {p.category.split("/")[0] for p in products}
    assert len(second_level) >= 15
    assert len(top_level) >= 10
    assert len({p.brand for p in products}) >= 60


def test_specs_in_descriptions_are_backed_by_the_data(products: tuple[Product, ...]) -> None:
    unbacked = []
    for p in products:
        known = _numbers(p.attributes) | _numbers(p.title)
        for raw in UNIT_NUMBER.findall(p.description):
            if abs(float(raw.replace(",", ""))) not in known:
                unbacked.append(f"{p.id}: {raw}")
    assert unbacked == []


def test_chinese_down_jackets(products: tuple[Product, ...]) -> None:
    down = [p for p in products if p.lang == "zh" and "羽绒服" in p.title]
    in_stock = [p for p in down if p.in_stock]
    assert len(down) >= 12
    assert len(in_stock) >= 10
    assert len(down) - len(in_stock) >= 2
    titles = " ".join(p.title for p in down)
    for word in ("长款", "短款", "男", "女", "鹅绒", "鸭绒"):
        assert word in titles, word
    prices = [p.price for p in down]
    assert min(prices) <= 300 and max(prices) >= 2500
    assert all(p.currency == "CNY" for p in down)
    assert all({"fill_power", "fill_weight_g", "comfort_temp_c"} <= set(p.attributes) for p in down)


def test_english_down_jackets_and_parkas(products: tuple[Product, ...]) -> None:
    down = [
        p
        for p in products
        if p.lang == "en" and p.category == "Clothing/Outerwear/Down" and re.search(r"jacket|parka|coat", p.title, re.I)
    ]
    assert len(down) >= 6
    assert all("fill_power" in p.attributes for p in down)


def test_gaming_laptops(products: tuple[Product, ...]) -> None:
    gaming = [p for p in products if p.attributes.get("gaming") is True]
    english = [p for p in gaming if p.lang == "en"]
    assert len(english) >= 8
    for p in gaming:
        assert p.category.startswith("Electronics/Computers/Laptops"), p.id
        assert {"gpu", "ram_gb", "screen_in"} <= set(p.attributes), p.id
    under_1500 = [p for p in english if p.price < 1500 and p.in_stock]
    assert len(under_1500) >= 4
    prices = sorted(p.price for p in english)
    assert prices[0] < 1000 and prices[-1] >= 2000
    assert len([p for p in gaming if p.lang == "zh" and "游戏本" in p.title]) >= 3
    non_gaming = [p for p in products if p.category.startswith("Electronics/Computers/Laptops") and p not in gaming]
    assert len(non_gaming) >= 6
    assert all(p.attributes.get("gaming") is False for p in non_gaming)


def test_power_banks_have_capacity(products: tuple[Product, ...]) -> None:
    banks = [p for p in products if p.category == "Electronics/Phones/Power Banks"]
    assert len(banks) >= 8
    assert all(isinstance(p.attributes.get("capacity_mAh"), int) for p in banks)
    assert {5000, 10000, 20000} <= {p.attributes["capacity_mAh"] for p in banks}
    assert {"en", "zh"} == {p.lang for p in banks}


def _has_tag(tag: str) -> Callable[[Product], bool]:
    return lambda p: tag in p.tags


def _in_category(prefix: str) -> Callable[[Product], bool]:
    return lambda p: p.category.startswith(prefix)


@pytest.mark.parametrize(
    ("what", "matches", "at_least"),
    [
        ("smartphones", _in_category("Electronics/Phones/Smartphones"), 8),
        ("noise-cancelling headphones (zh)", _has_tag("降噪耳机"), 3),
        ("noise-cancelling headphones (en)", lambda p: p.attributes.get("anc") is True and p.lang == "en", 3),
        ("running shoes (zh)", _has_tag("跑步鞋"), 5),
        ("running shoes (en)", lambda p: p.category.startswith("Shoes/Running") and p.lang == "en", 5),
        ("rain jackets", _in_category("Clothing/Outerwear/Rain Jackets"), 6),
        ("coffee machines", _in_category("Home/Kitchen/Coffee"), 8),
        ("sunscreen (zh)", _has_tag("防晒霜"), 3),
        ("moisturizers", _in_category("Beauty/Skincare/Moisturizers"), 5),
        ("longjing tea", lambda p: "龙井" in p.title, 2),
        ("pu-erh tea", lambda p: "普洱" in p.title, 2),
        ("kitchen", _in_category("Home/Kitchen"), 15),
        ("toys", _in_category("Toys"), 8),
        ("pet food", lambda p: p.category in {"Pets/Dog Food", "Pets/Cat Food"}, 6),
        ("books", _in_category("Books"), 10),
        ("camping gear", _in_category("Sports/Outdoor/Camping"), 10),
        ("baby products", _in_category("Baby"), 8),
    ],
)
def test_coverage(products: tuple[Product, ...], what: str, matches: Callable[[Product], bool], at_least: int) -> None:
    found = [p for p in products if matches(p)]
    assert len(found) >= at_least, f"{what}: {len(found)} < {at_least}"


def test_rain_jackets_are_told_apart_from_insulated_jackets(products: tuple[Product, ...]) -> None:
    rain = [p for p in products if p.category == "Clothing/Outerwear/Rain Jackets"]
    assert all(p.attributes.get("waterproof") is True for p in rain)
    assert any(p.attributes.get("insulated") is False for p in rain)
    # a softshell that says it is not waterproof: the "not a rain jacket" case
    assert any(p.category.endswith("Softshell") and p.attributes.get("waterproof") is False for p in products)
