"""The one clarifying question a vague opener gets ("a gift for my dad", "推荐点好东西"): what kind of product,
and roughly what budget, with concrete options drawn from this catalog (its biggest categories a shopper's
word points at, and price bands at its price quartiles), each a message the shopper can send back as is.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, Field

from service.catalog.load import Catalog
from service.output.explain import format_price
from service.prompt.language import is_chinese
from service.retrieve.understand import QueryUnderstanding

# Shopper words, by language, that name a kind of product; those pointing at a category of this catalog are offered.
_WORDS = {
    "zh": ("耳机", "羽绒服", "跑鞋", "笔记本电脑", "咖啡机", "充电宝", "防晒", "登山鞋"),
    "en": ("headphones", "down jacket", "running shoes", "laptop", "coffee machine", "power bank", "sunscreen", "hiking boots"),
}
MAX_CATEGORIES = 4


class Question(BaseModel):
    text: str
    options: list[str] = Field(description="Answers the shopper can send back as they are.")


def clarifying_question(catalog: Catalog, understanding: QueryUnderstanding, language: str) -> Question:
    zh = is_chinese(language)
    in_stock = [p for p in catalog.products if p.in_stock]
    sizes: Counter[str] = Counter()
    offered: list[tuple[int, str]] = []
    for word in _WORDS["zh" if zh else "en"]:
        category = understanding.parse(word).category
        if not category:
            continue
        count = sum(1 for p in in_stock if p.category == category or p.category.startswith(category + "/"))
        if count and category not in sizes:
            sizes[category] = count
            offered.append((count, word))
    options = [word for _count, word in sorted(offered, key=lambda cw: -cw[0])[:MAX_CATEGORIES]]
    currency = catalog.price_currency()
    if currency is None:  # a mixed catalog: the bands of the shopper's likely currency
        counts = Counter(p.currency for p in in_stock if p.price is not None and p.currency)
        preferred = "CNY" if zh else "USD"
        currency = preferred if counts.get(preferred) else (counts.most_common(1)[0][0] if counts else None)
    prices = sorted(p.price for p in in_stock if p.price is not None and p.currency == currency)
    if len(prices) >= 4:
        low, high = prices[len(prices) // 4], prices[(3 * len(prices)) // 4]
        low, high = _round(low), _round(high)
        if low < high:
            a, b = format_price(low, currency), format_price(high, currency)
            options += [f"{a}以内", f"{a}到{b}", f"{b}以上"] if zh else [f"under {a}", f"{a} to {b}", f"over {b}"]
    text = "想找哪一类商品？大概的预算是多少？" if zh else "What kind of product are you looking for, and roughly what budget?"
    return Question(text=text, options=options)


def _round(price: float) -> float:
    """A round figure near ``price`` (two significant digits)."""
    if price < 10:
        return float(round(price))
    digits = len(str(int(price))) - 2
    return float(round(price, -digits))
