"""What a model sees of products and constraints: facts trimmed to what the task needs.

Prompts stay short (a hosted model's cost and latency grow with them; a small local
model's prefill costs seconds per thousand tokens on a CPU) and carry no more than the
product data says.
"""

from __future__ import annotations

from typing import Any

from service.catalog.product import Product
from service.retrieve.base import Candidate
from service.retrieve.understand import Understood
from service.validate.recommend import Filters

_DESCRIPTION_CHARS = 280
_MAX_TAGS = 8
_MAX_ATTRIBUTES = 10
_COMPACT_KEYS = ("id", "title", "brand", "price", "currency", "tags")
_COMPACT_TAGS = 3
_COPY_DESCRIPTION_CHARS = 4000  # copy is written from the description: it keeps far more of it


def _trimmed(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def prompt_facts(candidate: Candidate) -> dict[str, Any]:
    """What the model sees of one candidate: the facts that matter, trimmed to keep prompts short."""
    product = candidate.product
    facts: dict[str, Any] = {"id": product.id, "title": product.title}
    if product.brand:
        facts["brand"] = product.brand
    if product.category:
        facts["category"] = product.category
    if product.price is not None:
        facts["price"] = product.price
        if product.currency:
            facts["currency"] = product.currency
    if product.attributes:
        facts["attributes"] = dict(list(product.attributes.items())[:_MAX_ATTRIBUTES])
    if product.tags:
        facts["tags"] = list(product.tags[:_MAX_TAGS])
    if product.description:
        facts["description"] = _trimmed(product.description, _DESCRIPTION_CHARS)
    if not product.in_stock:
        facts["in_stock"] = False
    return facts


def compact_facts(candidate: Candidate) -> dict[str, Any]:
    """The few facts a small local model gets: its prompt prefill costs seconds per thousand tokens on a CPU."""
    facts = prompt_facts(candidate)
    compact = {key: facts[key] for key in _COMPACT_KEYS if key in facts}
    if "tags" in compact:
        compact["tags"] = compact["tags"][:_COMPACT_TAGS]
    return compact


def active_filters(filters: Filters, understood: Understood | None = None) -> dict[str, Any]:
    """The constraints worth telling the model about: set filters, plus what the shopper ruled out or wants."""
    data = {k: v for k, v in filters.model_dump(exclude_none=True).items() if v != []}
    if data.get("in_stock") is True:
        data.pop("in_stock")
    if understood is not None:
        if understood.cheap:
            data["prefers"] = "lower prices"
        elif understood.premium:
            data["prefers"] = "premium quality over price"
    return data


def copy_facts(product: Product) -> dict[str, Any]:
    """What the copywriter sees of the product: its facts, the description trimmed (stock is not copy)."""
    facts = product.facts()
    facts.pop("in_stock", None)
    text = facts.get("description")
    if isinstance(text, str):
        facts["description"] = _trimmed(text, _COPY_DESCRIPTION_CHARS)
    return facts
