"""Reasons and summaries built from product facts, for items the model did not explain.

Used for items filled from retrieval order and for the degraded answer when no
provider could answer. They say only what the data holds: matched terms,
category, brand, price against the shopper's budget, stock and a few attributes.
"""

from __future__ import annotations

from service.prompt.language import is_chinese
from service.retrieve.base import Candidate
from service.text.script import HAN
from service.validate.recommend import Filters

_SYMBOLS = {"USD": "$", "CNY": "¥", "RMB": "¥", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$", "TWD": "NT$"}
_MAX_TERMS = 3
_MAX_ATTRIBUTES = 2


def format_price(price: float, currency: str | None) -> str:
    symbol = _SYMBOLS.get(currency or "", "")
    amount = f"{price:,.0f}" if float(price).is_integer() else f"{price:,.2f}"
    if symbol:
        return f"{symbol}{amount}"
    return f"{amount} {currency}" if currency else amount


def _attributes(candidate: Candidate, *, chinese: bool = False) -> list[str]:
    """A few attributes as "label value". In a Chinese reason, only what reads as Chinese: a value in Chinese
    alone (白鹅绒, 长款: the catalog's keys are often English, ``fill_type``), a Chinese key with its value;
    "fill type 白鹅绒, down content pct 90" in the middle of a Chinese sentence reads as noise."""
    out = []
    for key, value in candidate.product.attributes.items():
        if isinstance(value, (dict, list)) or value in (None, "", False):
            continue
        label = str(key).replace("_", " ")
        if chinese and not HAN.search(label):
            if not (isinstance(value, str) and HAN.search(value)):
                continue
            out.append(value)
        else:
            out.append(label if value is True else f"{label} {value}")
        if len(out) == _MAX_ATTRIBUTES:
            break
    return out


def _budget(filters: Filters, price: float | None) -> tuple[str, float] | None:
    if price is None:
        return None
    if filters.price_max is not None and price <= filters.price_max:
        return ("max", filters.price_max)
    if filters.price_min is not None and price >= filters.price_min:
        return ("min", filters.price_min)
    return None


def fact_reason(candidate: Candidate, filters: Filters, language: str) -> str:
    """One or two sentences on why retrieval proposed this product, from its facts alone."""
    product = candidate.product
    terms = list(dict.fromkeys(candidate.matched_terms))[:_MAX_TERMS]
    chinese = is_chinese(language)
    attrs = _attributes(candidate, chinese=chinese)
    budget = _budget(filters, product.price)
    price = format_price(product.price, product.currency) if product.price is not None else None
    category = product.category.replace("/", " › ") if product.category else ""

    if chinese:
        if not HAN.search(category):  # an English category path says nothing in a Chinese sentence
            category = ""
        parts = []
        if terms:
            parts.append("匹配" + "".join(f"「{t}」" for t in terms))
        facts = []
        if product.brand:
            facts.append(f"{product.brand}品牌")
        if category:
            facts.append(f"类目 {category}")
        if price:
            if budget and budget[0] == "max":
                facts.append(f"售价 {price}，在您 {format_price(budget[1], product.currency)} 以内的预算内")
            elif budget:
                facts.append(f"售价 {price}，不低于 {format_price(budget[1], product.currency)}")
            else:
                facts.append(f"售价 {price}")
        if attrs:
            facts.append("参数：" + "，".join(attrs))
        if facts:
            parts.append("，".join(facts))
        parts.append("有货" if product.in_stock else "暂时缺货")
        return "。".join(parts) + "。"

    parts = []
    if terms:
        parts.append("Matches " + ", ".join(f'"{t}"' for t in terms))
    facts = []
    if category:
        facts.append(f"in {category}")
    if product.brand:
        facts.append(f"by {product.brand}")
    if price:
        if budget and budget[0] == "max":
            facts.append(f"at {price}, within your {format_price(budget[1], product.currency)} budget")
        elif budget:
            facts.append(f"at {price}, above your {format_price(budget[1], product.currency)} minimum")
        else:
            facts.append(f"at {price}")
    if facts:
        parts.append(" ".join(facts))
    if attrs:
        parts.append("Features: " + ", ".join(attrs))
    parts.append("In stock" if product.in_stock else "Currently out of stock")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def fact_summary(count: int, language: str) -> str:
    """The summary of an answer built from retrieval alone."""
    if is_chinese(language):
        return f"根据您的需求，从商品库中按相关度挑选了 {count} 件商品。" if count else "商品库中没有找到符合条件的商品。"
    if count:
        return f"The {count} catalog product{'s' if count != 1 else ''} that best match your request, by relevance."
    return "No catalog products match your request and filters."
