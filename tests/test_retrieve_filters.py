from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.catalog.product import Product
from service.retrieve.filters import FilterMask, merge_filters, passes
from service.retrieve.understand import QueryUnderstanding, Understood
from service.validate.base import parse_body
from service.validate.recommend import Filters, RecommendRequest
from tests.support.shop_words import BRANDS, CATEGORIES, band

PRODUCTS = [
    Product(id="a", title="Down Jacket", category="Clothing/Outerwear/Down", brand="The North Face", price=279.0),
    Product(id="b", title="Poncho", category="Clothing/Outerwears", brand="Columbia", price=25.0),
    Product(id="c", title="Rain Jacket", category="Clothing/Outerwear", brand="columbia", price=89.0),
    Product(id="d", title="Parka", category="Clothing/Outerwear/Parkas", brand="Canada Goose", price=1295.0, in_stock=False),
    Product(id="e", title="Solar Power Bank", category="Electronics/Power Banks", brand="Hiluckey"),
    Product(id="f", title="羽绒服", category="服装/外套/羽绒服", brand="波司登", price=899.0),
    Product(id="g", title="Full-width brand", category="Clothing", brand="ＮＩＫＥ", price=0.0),
    Product(id="h", title="No category", price=10.0),
]


def ids(filters: Filters) -> list[str]:
    return [p.id for p in PRODUCTS if passes(p, filters)]


def test_in_stock_is_on_by_default() -> None:
    assert "d" not in ids(Filters())
    assert "d" in ids(Filters(in_stock=False))


def test_price_bounds_are_inclusive_and_a_missing_price_fails() -> None:
    assert ids(Filters(price_min=89, price_max=279)) == ["a", "c"]
    assert "e" not in ids(Filters(price_min=0))
    assert "e" not in ids(Filters(price_max=1e9))
    assert "g" in ids(Filters(price_max=0))
    assert "e" in ids(Filters())


def test_category_prefix_matches_whole_segments_case_insensitively() -> None:
    assert ids(Filters(category="Clothing/Outerwear", in_stock=False)) == ["a", "c", "d"]
    assert ids(Filters(category=" clothing / OUTERWEAR / ")) == ["a", "c"]
    assert ids(Filters(category="Clothing/Outerwears")) == ["b"]
    assert ids(Filters(category="clothing/outer")) == []
    assert ids(Filters(category="服装/外套")) == ["f"]
    assert ids(Filters(category="/")) == ids(Filters())  # blank constrains nothing


def test_brand_is_case_insensitive_exact() -> None:
    assert ids(Filters(brand="COLUMBIA")) == ["b", "c"]
    assert ids(Filters(brand="Columbia Sportswear")) == []
    assert ids(Filters(brand="nike")) == ["g"]
    assert ids(Filters(brand="north face")) == []


def test_mask_of_no_constraint_is_none_and_masks_are_read_only() -> None:
    fm = FilterMask(PRODUCTS)
    assert fm.mask(Filters(in_stock=False)) is None
    mask = fm.mask(Filters())
    assert mask is not None and not mask.flags.writeable


def _label(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _oracle(p: Product, f: Filters) -> bool:
    """The filter contract written out independently of the code under test."""
    if f.in_stock and not p.in_stock:
        return False
    if (f.price_min is not None or f.price_max is not None) and p.price is None:
        return False
    if f.price_min is not None and p.price < f.price_min:
        return False
    if f.price_max is not None and p.price > f.price_max:
        return False
    if f.brand and f.brand.strip() and _label(p.brand) != _label(f.brand):
        return False
    if f.category:
        want = [_label(s) for s in f.category.split("/") if s.strip()]
        have = [_label(s) for s in p.category.split("/")] if p.category else []
        if want and have[: len(want)] != want:
            return False
    return True


prices = st.one_of(st.none(), st.sampled_from([0.0, 10.0, 25.0, 89.0, 279.0, 899.0, 1295.0]), st.floats(0, 2000))
categories = st.one_of(
    st.none(),
    st.sampled_from(["Clothing", "clothing/outerwear", "Clothing/Outerwear/Down", "Clothing/Outerwears", "服装",
                     "Electronics/Power Banks", "Clothing/Outer", "/", "Electronics/Power"]),
)
brands = st.one_of(st.none(), st.sampled_from(["columbia", "The North Face", "NIKE", "波司登", "acme", ""]))


@st.composite
def filters(draw: st.DrawFn) -> Filters:
    lo, hi = draw(prices), draw(prices)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return Filters(price_min=lo, price_max=hi, category=draw(categories), brand=draw(brands), in_stock=draw(st.booleans()))


@settings(max_examples=300, deadline=None)
@given(filters())
def test_mask_predicate_and_contract_agree(f: Filters) -> None:
    expected = [_oracle(p, f) for p in PRODUCTS]
    assert [passes(p, f) for p in PRODUCTS] == expected
    mask = FilterMask(PRODUCTS).mask(f)
    got = np.ones(len(PRODUCTS), dtype=bool) if mask is None else mask
    assert got.tolist() == expected


# --- merge_filters: the client's filters and what the shopper's words said --------------------------


@pytest.fixture(scope="module")
def qu() -> QueryUnderstanding:
    return QueryUnderstanding(CATEGORIES, BRANDS)


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
        **band(300), "category": "Shoes/Running", "brand": "Sony", "in_stock": True,
    }


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
