"""Copy built from the product's own data, for when no model answers (a degraded answer).

Every word comes from the product record, so it makes no claim the data does
not back; it still goes through the same checks as model copy.
"""

from __future__ import annotations

import re

from service.catalog.product import Product
from service.copywriting.channels import ChannelLimits, text_length
from service.copywriting.schema import CopyVariant

_CTA = {"zh": "立即购买", "ja": "今すぐ購入", "ko": "지금 구매", "de": "Jetzt kaufen", "fr": "Acheter", "es": "Comprar"}
_CTA_DEFAULT = "Shop now"
_BREAKS = re.compile(r"[\s,;:，。；：、！!？?·\-—|/]")
_SENTENCE = re.compile(r"[^.!?。！？]+[.!?。！？]*\s*")


def fit(text: str, maximum: int) -> str:
    """``text`` cut to at most ``maximum`` characters, at a word or punctuation break when there is one."""
    text = " ".join(text.split())
    if text_length(text) <= maximum:
        return text
    cut = text[:maximum]
    breaks = [m.start() for m in _BREAKS.finditer(cut)]
    if breaks and breaks[-1] >= maximum // 2:
        cut = cut[: breaks[-1]]
    return cut.rstrip(" ,;:，。；：、-—|/")


def _body(product: Product, maximum: int) -> str:
    text = " ".join((product.description or product.title).split())
    if text_length(text) <= maximum:
        return text
    out = ""
    for sentence in _SENTENCE.findall(text):
        if text_length(out + sentence) > maximum:
            break
        out += sentence
    return out.strip() or fit(text, maximum)


def _bullets(product: Product, limits: ChannelLimits) -> list[str]:
    points: list[str] = []
    for value in product.attributes.values():
        if isinstance(value, str) and value.strip():
            points.append(value.strip())
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            points.append(" / ".join(value))
    points.extend(product.tags)
    out: list[str] = []
    for point in points:
        short = fit(point, limits.bullet_max)
        if short and short not in out:
            out.append(short)
        if len(out) == limits.bullets_max:
            break
    return out


def fallback_variant(product: Product, limits: ChannelLimits, language: str) -> CopyVariant:
    """One plain variant from the product's title, description, attributes and tags."""
    cta = _CTA.get(language.split("-")[0], _CTA_DEFAULT)
    return CopyVariant(
        headline=fit(product.title, limits.headline_max),
        body=_body(product, limits.body_max),
        bullets=_bullets(product, limits),
        cta=fit(cta, limits.cta_max),
    )
