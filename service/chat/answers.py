"""Comparisons and product questions answered from catalog data only.

The reply a model writes for such a turn is used only when it is grounded: every factual claim in it is
backed by one of the products talked about (:func:`service.copywriting.grounding.unsupported_claims`, the
copy check) and every number in it appears in their data. Otherwise, and when the data does not hold what
was asked, the reply is built here from the data itself, and says when the data does not say.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from service.catalog.product import Product
from service.chat.attributes import DIMENSIONS, measure
from service.copywriting.grounding import ProductFacts, extract_claims, is_backed, product_facts
from service.output.explain import fact_reason, format_price
from service.prompt.language import is_chinese
from service.retrieve.base import Candidate
from service.retrieve.filters import fold
from service.text.script import HAN
from service.validate.recommend import Filters

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LABELS = {
    "price": ("price", "价格"),
    "weight": ("weight", "重量"),
    "screen": ("screen size", "屏幕尺寸"),
    "battery_life": ("battery life", "续航"),
    "battery": ("battery capacity", "电池容量"),
    "storage": ("storage", "存储"),
    "warmth": ("comfort temperature", "舒适温度"),
}
# A numeric attribute's unit is its key's suffix (weight_g, screen_in, comfort_temp_c, capacity_mAh)
_UNIT_SUFFIX = re.compile(r"_(?:g|kg|mm|cm|m|in|h|c|pct|mah|gb|tb|days|ml|l|oz)$", re.IGNORECASE)
_SUFFIX_UNITS = {"g": " g", "kg": " kg", "mm": " mm", "cm": " cm", "m": " m", "in": " in", "h": " h", "c": "°C",
                 "pct": "%", "mah": " mAh", "gb": " GB", "tb": " TB", "days": " days", "ml": " ml", "l": " L", "oz": " oz"}


def _with_unit(key: str, value: Any) -> str:
    """A value as the data writes it (never rounded), with the unit its key's suffix names."""
    suffix = _UNIT_SUFFIX.search(str(key))
    unit = _SUFFIX_UNITS.get(suffix.group(0)[1:].lower(), "") if suffix else ""
    whole = isinstance(value, float) and value.is_integer()
    return f"{int(value) if whole else value}{unit}"
_BETTER = {  # which end wins, and how to say it
    "price": ("lt", "cheaper", "更便宜"),
    "weight": ("lt", "lighter", "更轻"),
    "screen": ("gt", "has the bigger screen", "屏幕更大"),
    "battery_life": ("gt", "lasts longer", "续航更长"),
    "battery": ("gt", "has the bigger battery", "电池容量更大"),
    "storage": ("gt", "has more storage", "存储更大"),
    "warmth": ("lt", "is warmer", "更保暖"),
}
# A feature a shopper asks about, and the words product data uses for it.
FEATURE_WORDS: tuple[tuple[str, ...], ...] = (
    ("noise cancelling", "noise canceling", "noise cancellation", "anc", "降噪", "主动降噪"),
    ("waterproof", "water resistant", "water resistance", "water_resistance", "water_resistant", "防水"),
    ("hood", "hooded", "连帽", "帽子"),
    ("bluetooth", "蓝牙"),
    ("wireless", "无线"),
    ("5g",),
    ("fast charging", "快充"),
    ("fragrance free", "fragrance_free", "无香", "无香精"),
)


def _squash(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", fold(text))


def _data_numbers(products: list[Product]) -> set[float]:
    out: set[float] = set()
    for product in products:
        texts = [product.title, product.description, product.category, *product.tags]
        for key, value in product.attributes.items():
            texts.append(str(key))
            texts.append(str(value))
        if product.price is not None:
            out.add(float(product.price))
        for text in texts:
            for number in _NUMBER.findall(fold(text)):
                try:
                    out.add(float(number.replace(",", "")))
                except ValueError:
                    continue
    return out


def grounded(
    text: str, products: list[Product], facts_of: Callable[[Product], ProductFacts] = product_facts
) -> bool:
    """Whether ``text`` claims nothing the products' data does not hold: each claim backed by one of them,
    and each number in it one of their numbers. A text without claims or numbers needs no facts built."""
    currency = products[0].currency if products else None
    claims = extract_claims(text, currency=currency)
    said = _NUMBER.findall(fold(text))
    if not claims and not said:
        return True
    facts = [facts_of(p) for p in products]
    for claim in claims:
        if not any(is_backed(claim, f) for f in facts):
            return False
    numbers = _data_numbers(products)
    for number in said:
        try:
            value = float(number.replace(",", ""))
        except ValueError:
            return False
        if not any(abs(value - n) < 1e-9 for n in numbers):
            return False
    return True


def _shown(product: Product, dimension: str) -> str | None:
    """The product's value on ``dimension`` as its data writes it (so every number said is in the data)."""
    if dimension == "price":
        return format_price(product.price, product.currency) if product.price is not None else None
    for key, _factor in DIMENSIONS.get(dimension, ()):
        value = product.attributes.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _with_unit(key, value)
    return None


@dataclass(frozen=True)
class Comparison:
    reply: str
    table: list[dict[str, Any]]  # [{attribute, values: {id: value-as-written}}]


def compare(products: list[Product], dimension: str | None, language: str) -> Comparison:
    """The products side by side on ``dimension`` (else on the numeric facts they all have), from data only."""
    zh = is_chinese(language)
    dimensions = [dimension] if dimension else ["price", *[d for d in DIMENSIONS if all(measure(p, d) is not None for p in products)]]
    table = []
    for dim in dimensions[:4]:
        values = {p.id: _shown(p, dim) for p in products}
        if any(v is not None for v in values.values()):
            table.append({"attribute": _LABELS[dim][0], "values": values})
    if not table:
        label = _LABELS.get(dimension or "", ("that", "这一项"))
        reply = (f"商品资料没有写明这几款的{label[1]}。" if zh else f"The product data does not say the {label[0]} of these products.")
        return Comparison(reply, [])
    parts = []
    for p in products:
        facts = [f"{_LABELS[d][1 if zh else 0]} {_shown(p, d)}" for d in dimensions[:4] if _shown(p, d) is not None]
        parts.append(f"{p.title}：{'，'.join(facts) if facts else '资料未写明'}" if zh else f"{p.title}: {', '.join(facts) if facts else 'not stated in its data'}")
    reply = ("；".join(parts) + "。") if zh else ("; ".join(parts) + ".")
    if dimension in _BETTER:
        measured = [(measure(p, dimension), p) for p in products]
        known = [(v, p) for v, p in measured if v is not None]
        op, en, cn = _BETTER[dimension]
        if len(known) >= 2:
            best = min(known, key=lambda vp: vp[0]) if op == "lt" else max(known, key=lambda vp: vp[0])
            if sum(1 for v, _ in known if v == best[0]) == 1:
                reply += f"{best[1].title}{cn}。" if zh else f" {best[1].title} {en if en.startswith(('has', 'is', 'lasts')) else 'is ' + en}."
        missing = [p for v, p in measured if v is None]
        for p in missing:
            reply += f"{p.title}的资料没有写明{_LABELS[dimension][1]}。" if zh else f" The data of {p.title} does not say its {_LABELS[dimension][0]}."
    return Comparison(reply, table)


def _feature_words(feature: str) -> list[str]:
    squashed = _squash(feature)
    for group in FEATURE_WORDS:
        if any(_squash(word) == squashed or _squash(word) in squashed for word in group):
            return [_squash(w) for w in group]
    return [squashed]


def answer_question(product: Product, feature: str, language: str) -> tuple[str, bool]:
    """(reply, whether the data holds the answer) for "does it have ``feature``?", from ``product``'s data."""
    zh = is_chinese(language)
    words = [w for w in _feature_words(feature) if w]
    for key, value in product.attributes.items():
        if any(w in _squash(str(key)) for w in words):
            if value is False:
                return (f"没有，{product.title}的资料写明不带{feature}。" if zh else f"No: the data of {product.title} says it has no {feature}."), True
            said = "" if value is True else f"（{key}: {value}）" if zh else f" ({key}: {value})"
            return (f"有，{product.title}的资料写明了{feature}{said}。" if zh else f"Yes: the data of {product.title} lists {feature}{said}."), True
        strings = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, str) and any(w in _squash(v) for w in words) for v in strings):
            return (f"有，{product.title}的资料写明：{key} {value}。" if zh else f"Yes: the data of {product.title} says {key}: {value}."), True
    for text in (product.title, *product.tags, product.description):
        if any(w in _squash(text) for w in words):
            return (f"有，{product.title}的商品介绍提到了{feature}。" if zh else f"Yes: the description of {product.title} mentions {feature}."), True
    return (f"{product.title}的商品资料没有写明是否有{feature}。" if zh else f"The product data of {product.title} does not say whether it has {feature}."), False


# What a value question asks about, read from its words (weight before price: "how much does it weigh").
_VALUE_DIMENSIONS = (
    ("weight", re.compile(r"weigh|heavy|重量|多重|多沉|几斤|多少克")),
    ("warmth", re.compile(r"warm|temperature|degree|多少度|几度|温度|多暖|保暖|能抗")),
    ("screen", re.compile(r"screen|display|屏")),
    ("battery_life", re.compile(r"battery life|how long does .*last|续航")),
    ("battery", re.compile(r"battery|mah|电池")),
    ("storage", re.compile(r"storage|存储")),
    # "how much" alone is the price ("how much is the first one?"), not "how much down is in it?"
    ("price", re.compile(r"price|cost|^how much(?: is| are)?$|多少钱|价格|价钱|售价|几块")),
)
_BRAND = re.compile(r"(?<![a-z])(?:brand|make|maker)(?![a-z])|牌子|品牌|哪家")
_AMOUNT = (r"\s*[:：为是]?\s*(\d+(?:[.,]\d+)*\s*(?:mah|kg|mm|cm|ml|gb|tb|%|℃|°c|g|m|h|l|英寸|寸|千克|克|毫升|小时|天)?)"
           r"(?![a-z])")
# Chinese words for common attribute keys of a catalog written with English keys (the demo's), most likely first
_ZH_KEYS: dict[str, tuple[str, ...]] = {
    "充绒量": ("fill_weight",), "蓬松度": ("fill_power",), "含绒量": ("down_content",), "填充物": ("fill_type",),
    "颜色": ("colors", "color"), "尺码": ("sizes", "size"), "尺寸": ("sizes", "size", "dimensions"),
    "面料": ("shell_material", "material", "fabric"), "材质": ("material", "upper_material", "shell_material"),
    "长度": ("length",), "性别": ("gender",), "容量": ("capacity", "volume", "battery"), "接口": ("ports",),
    "芯片": ("cpu", "chip"), "处理器": ("cpu",), "内存": ("ram",), "系统": ("os",), "极限温度": ("limit_temp",),
    "舒适温度": ("comfort_temp",), "防晒指数": ("spf",),
}


def answer_value(product: Product, question: str, feature: str, language: str, *, about: bool = False) -> tuple[str, bool]:
    """(reply, whether the data holds it) for "what is the ``feature`` of it?" / "第一个的充绒量是多少", from
    ``product``'s data only: its brand; else the attribute the words name (fill weight: ``fill_weight_g``;
    充绒量 through a few Chinese words for English keys); else a dimension the words name (weight, warmth,
    price…); else an attribute whose key holds the words; else the words followed by an amount in its title or
    description (蓬松度750). Values are said as the data writes them."""
    zh = is_chinese(language)
    words = fold(question)
    noun = "" if fold(feature) == words else fold(feature)  # no noun read: the question's words only
    stems = [_squash(s) for s in _ZH_KEYS.get(noun, (noun,)) if s]
    if _BRAND.search(words) and product.brand:
        return (f"{product.title}的品牌是 {product.brand}。" if zh else f"The brand of {product.title} is {product.brand}."), True
    attributes = [(k, v) for k, v in product.attributes.items() if not isinstance(v, dict) and v not in (None, "", [])]
    for stem in stems:
        for key, value in attributes:
            if _squash(_UNIT_SUFFIX.sub("", str(key))) == stem:
                return _said(product, key, value, zh, noun), True
    label = None
    for dimension, pattern in _VALUE_DIMENSIONS:
        if pattern.search(words):
            label = _LABELS[dimension][1 if zh else 0]
            shown = _shown(product, dimension)
            if shown is not None:
                return (f"{product.title}的{label}是 {shown}。" if zh else f"The {label} of {product.title} is {shown}."), True
            break  # its usual keys are missing: only the description may still say it
    if label is None:
        for stem in stems:  # a key that holds the words ("cpu" for "cpu model")
            for key, value in attributes:
                if stem in _squash(str(key)):
                    return _said(product, key, value, zh, noun), True
    if noun:
        for text in (product.title, product.description):
            found = re.search(re.escape(noun) + _AMOUNT, fold(text or ""))
            if found:
                amount = found.group(1).strip()
                return (f"{product.title}的商品介绍写明：{noun}{amount}。" if zh
                        else f"The description of {product.title} says {noun} {amount}."), True
    if about:  # nothing in particular asked ("第一个怎么样", "tell me about the second one"): its facts
        facts = fact_reason(Candidate(product=product, score=1.0), Filters(), language)
        return (f"{product.title}：{facts}" if zh else f"{product.title}: {facts}"), True
    asked = noun if noun and (noun in _ZH_KEYS or not label) else label  # the shopper's word for a known key
    if not asked:
        return (f"{product.title}的商品资料没有写明这一项。" if zh else f"The product data of {product.title} does not say."), False
    return (f"{product.title}的商品资料没有写明{asked}。" if zh else f"The product data of {product.title} does not say its {asked}."), False


def _said(product: Product, key: str, value: Any, zh: bool, asked: str = "") -> str:
    """An attribute's value as the data writes it, named by the shopper's word when it is Chinese (充绒量),
    else by its key without the unit suffix ("fill weight"), the unit after the value."""
    name = _UNIT_SUFFIX.sub("", str(key)).replace("_", " ")
    if value is True or value is False:
        shown = ("是" if value else "否") if zh else ("yes" if value else "no")
    elif isinstance(value, list):
        shown = " / ".join(str(v) for v in value)
    else:
        shown = _with_unit(key, value)
    if zh:
        return f"{product.title}的{asked if HAN.search(asked) else name}是 {shown}。"
    return f"The {name} of {product.title} {'are' if isinstance(value, list) else 'is'} {shown}."
