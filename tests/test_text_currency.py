"""One currency table: what a written marker means, and the same answer from query understanding and copy grounding."""

from __future__ import annotations

import pytest

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.copywriting.grounding import extract_claims, unsupported_claims
from service.copywriting.grounding.units import CURRENCY_MARKERS as GROUNDING_MARKERS
from service.retrieve.filters import merge_filters
from service.retrieve.understand import QueryUnderstanding
from service.retrieve.understand.price import CURRENCY_MARKERS as UNDERSTANDING_MARKERS
from service.text.currency import CURRENCY_MARKERS, ISO_CODES, currency_of
from service.validate.recommend import Filters


def _catalog(currency: str) -> Catalog:
    return Catalog.of(
        [
            Product(id="a", title="Wireless headphones", category="Electronics/Audio", price=4500, currency=currency),
            Product(id="b", title="Studio headphones", category="Electronics/Audio", price=9800, currency=currency),
        ]
    )


# -- the table ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("marker", "context", "code"),
    [
        ("¥", None, "CNY"),
        ("¥", "CNY", "CNY"),
        ("¥", "JPY", "JPY"),
        ("¥", "jpy ", "JPY"),
        ("¥", "USD", "CNY"),  # not one of its readings: the default
        ("元", "JPY", "CNY"),  # 元 names the yuan only
        ("日元", None, "JPY"),
        ("$", None, "USD"),
        ("$", "CAD", "CAD"),
        ("$", "EUR", "USD"),
        ("US$", "CAD", "USD"),
        ("dollars", "AUD", "AUD"),
        ("bucks", "NZD", "NZD"),
        ("RMB", None, "CNY"),
        ("usd", None, "USD"),
        ("€", None, "EUR"),
        ("  £ ", None, "GBP"),
    ],
)
def test_currency_of(marker: str, context: str | None, code: str) -> None:
    assert currency_of(marker, context) == code


def test_unknown_marker_means_nothing() -> None:
    assert currency_of("zorkmids") is None
    assert currency_of("") is None


def test_every_reading_is_an_iso_code_and_every_code_reads_as_itself() -> None:
    assert all(set(readings) <= set(ISO_CODES) for readings in CURRENCY_MARKERS.values())
    assert all(currency_of(code) == code for code in ISO_CODES)


@pytest.mark.parametrize("marker", sorted(set(UNDERSTANDING_MARKERS) | set(GROUNDING_MARKERS)))
def test_every_marker_either_side_finds_is_in_the_table(marker: str) -> None:
    assert currency_of(marker) is not None


# -- defect 5: understanding and grounding gave ¥ different meanings ------------------------------
@pytest.mark.parametrize("shop_currency", [None, "CNY", "JPY", "USD", "CAD"])
@pytest.mark.parametrize(("query", "copy"), [("¥300以内的耳机", "仅需¥300"), ("headphones under $300", "only $300")])
def test_understanding_and_grounding_agree(shop_currency: str | None, query: str, copy: str) -> None:
    understood = QueryUnderstanding(["Electronics/Audio"], [], currency=shop_currency).parse(query)
    (claim,) = extract_claims(copy, currency=shop_currency)
    assert understood.currency == claim.currency


def test_yen_catalog_reads_yen_in_the_query() -> None:
    # Fails before the fix: ¥ was always CNY in the query, so the bound was dropped as "another currency".
    understanding = QueryUnderstanding.from_catalog(_catalog("JPY"))
    understood = understanding.parse("¥5000以下的耳机")
    assert (understood.currency, understood.price_max) == ("JPY", 5000.0)
    merged = merge_filters(Filters(), understood, set(), catalog_currency="JPY")
    assert merged.price_max == 5000.0


def test_yuan_catalog_still_reads_yuan() -> None:
    understood = QueryUnderstanding.from_catalog(_catalog("CNY")).parse("¥5000以下的耳机")
    assert (understood.currency, understood.price_max) == ("CNY", 5000.0)


def test_dollar_catalog_reads_its_own_dollar() -> None:
    understood = QueryUnderstanding.from_catalog(_catalog("CAD")).parse("headphones under $100")
    assert understood.currency == "CAD"
    assert merge_filters(Filters(), understood, set(), catalog_currency="CAD").price_max == 100.0


def test_yen_in_a_yen_products_data_does_not_back_a_yuan_claim() -> None:
    # Fails before the fix: the data's ¥4500 was "CNY or JPY", so it backed 4500元 (yuan) for a yen product.
    product = Product(id="j", title="Wireless headphones", description="限时价 ¥4500", price=4800, currency="JPY")
    assert unsupported_claims("仅需4500元", product) == ["4500元"]
    assert unsupported_claims("限时价¥4500", product) == []
    assert unsupported_claims("仅需4500日元", product) == []


def test_yen_claim_for_a_yuan_product() -> None:
    product = Product(id="c", title="Wireless headphones", price=299, currency="CNY")
    assert unsupported_claims("仅需¥299", product) == []
    assert unsupported_claims("仅需299日元", product) == ["299日元"]
