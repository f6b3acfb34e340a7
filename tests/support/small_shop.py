"""A six-product shop for the ops tests: its catalog, a word-overlap retriever, and apps built on them.

Cheap to build (no index, no jieba), so a test may make many apps and a gunicorn subprocess
starts at once: ``gunicorn 'tests.support.small_shop:create_test_app()'``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Flask

from service.app import Dependencies, build_dependencies, create_app
from service.catalog.load import Catalog
from service.catalog.product import Product
from service.ops.metrics import Metrics
from service.provider.chain import ProviderChain
from service.retrieve.base import Candidate
from service.settings import Settings, load_settings
from service.validate.recommend import Filters

PRODUCTS = [
    Product(id="p-down-1", title="Lightweight down jacket", category="Clothing/Outerwear", brand="North",
            price=129.0, currency="USD", tags=("winter", "down", "jacket"), description="Warm winter down jacket."),
    Product(id="p-down-2", title="羽绒服 冬季 加厚", category="Clothing/Outerwear", brand="雪山", price=699.0,
            currency="CNY", tags=("冬天", "羽绒服"), description="适合冬天穿的加厚羽绒服"),
    Product(id="p-laptop-1", title="Gaming laptop RTX 4060 16GB", category="Electronics/Laptops", brand="Acme",
            price=1299.0, currency="USD", tags=("gaming", "laptop"), description="RTX 4060 gaming laptop."),
    Product(id="p-laptop-2", title="Ultrabook 14 inch", category="Electronics/Laptops", brand="Thin",
            price=999.0, currency="USD", tags=("laptop", "light"), description="Light laptop for work."),
    Product(id="p-power-1", title="充电宝 5000mAh", category="Electronics/Accessories", brand="电力", price=99.0,
            currency="CNY", tags=("充电宝",), description="小巧 5000mAh 移动电源"),
    Product(id="p-phone-1", title="Phone case for iPhone 15", category="Electronics/Accessories", brand="Case",
            price=19.0, currency="USD", tags=("iphone", "case"), description="Slim case."),
]


def catalog() -> Catalog:
    return Catalog.of(PRODUCTS)


def _words(text: str) -> set[str]:
    text = text.lower()
    return set(re.findall(r"[a-z0-9]+", text)) | set(re.findall(r"[\u4e00-\u9fff]", text))


class WordRetriever:
    """Implements the Retriever protocol by word (and CJK character) overlap; honours the filters."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def search(self, query: str, filters: Filters, n: int) -> list[Candidate]:
        words = _words(query)
        found = []
        for product in self._catalog.products:
            if filters.in_stock and not product.in_stock:
                continue
            if filters.price_min is not None and (product.price is None or product.price < filters.price_min):
                continue
            if filters.price_max is not None and (product.price is None or product.price > filters.price_max):
                continue
            if filters.category and not product.category.startswith(filters.category):
                continue
            if filters.brand and product.brand != filters.brand:
                continue
            text = " ".join([product.title, product.description, " ".join(product.tags), product.category])
            overlap = words & _words(text)
            if overlap:
                found.append(Candidate(product, float(len(overlap)), tuple(sorted(overlap))))
        found.sort(key=lambda c: -c.score)
        return found[:n]


def settings(**overrides: Any) -> Settings:
    """Test settings: a unique cache prefix, JSON logs; no hosted provider unless asked.

    The local model is not preloaded (a chain from these settings has ``local`` in it unless a test says
    otherwise, and every app would load a model in the background); a test of preloading turns it on.
    A test that points ``redis_url`` at Redis passes conftest's ``redis_prefix`` as ``cache_prefix``.
    """
    base: dict[str, Any] = {"cache_prefix": f"t{uuid.uuid4().hex[:12]}", "log_format": "json", "local_preload": False}
    base.update(overrides)
    return load_settings(**base)


def deps(
    settings_: Settings, *providers: Any, chain: ProviderChain | None = None, metrics: Metrics | None = None
) -> Dependencies:
    """Dependencies over the small catalog; the chain is ``providers``, or ``chain``, or (neither) built from settings."""
    if chain is None and providers:
        chain = ProviderChain(list(providers))
    shop = catalog()
    return build_dependencies(settings_, catalog=shop, retriever=WordRetriever(shop), chain=chain, metrics=metrics)


def app(settings_: Settings, *providers: Any, chain: ProviderChain | None = None, metrics: Metrics | None = None) -> Flask:
    return create_app(settings_, deps=deps(settings_, *providers, chain=chain, metrics=metrics))


def create_test_app_from(settings_: Settings) -> Flask:
    """For ``service.cli.serve.serve(settings, app_factory)``: the small catalog, the chain from settings."""
    return app(settings_)


def create_test_app() -> Flask:
    """``gunicorn 'tests.support.small_shop:create_test_app()'``: settings from the environment."""
    return create_test_app_from(load_settings())
