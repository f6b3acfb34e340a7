"""What a written currency marker means: one table for query understanding and the copy grounding check.

A marker (``$``, ``¥``, ``元``, ``dollars``, ``RMB``, an ISO code ...) maps to the currencies it can
stand for, the usual one first. A marker that names one currency (``元``, ``US$``, ``日元``) always
means it; an ambiguous one (``¥`` is the yuan and the yen, ``$`` and ``dollars`` a dozen dollars) means
the *context* currency when that is one of its readings, else the first. The context is the currency the
shop prices in, known on both sides: query understanding passes the catalog's one currency (none for a
mixed catalog), grounding passes the product's. So in a yen shop "¥5000以下" is a JPY bound and "¥5000"
in copy is checked against a JPY price, while a shop in yuan, in another currency or with no currency
set reads ``¥`` as CNY: shopguide is built for Chinese storefronts first, and a Japanese catalog says
JPY. Both sides resolve through :func:`currency_of`, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

ISO_CODES: tuple[str, ...] = (
    "CNY", "USD", "EUR", "GBP", "JPY", "HKD", "CAD", "AUD", "SGD", "NZD", "TWD", "KRW", "INR", "MXN",
)

_DOLLAR_SIGN = ("USD", "CAD", "AUD", "NZD", "HKD", "SGD", "TWD", "MXN")
_DOLLARS = ("USD", "CAD", "AUD", "NZD", "HKD", "SGD")
_BUCKS = ("USD", "CAD", "AUD", "NZD")

_TABLE: dict[str, tuple[str, ...]] = {
    # signs
    "$": _DOLLAR_SIGN, "us$": ("USD",), "hk$": ("HKD",), "nt$": ("TWD",), "c$": ("CAD",), "ca$": ("CAD",),
    "a$": ("AUD",), "au$": ("AUD",), "s$": ("SGD",), "nz$": ("NZD",),
    "¥": ("CNY", "JPY"), "€": ("EUR",), "£": ("GBP",), "₹": ("INR",), "₩": ("KRW",),
    # words
    "dollar": _DOLLARS, "dollars": _DOLLARS, "buck": _BUCKS, "bucks": _BUCKS, "刀": _DOLLARS,
    "美元": ("USD",), "美金": ("USD",),
    "rmb": ("CNY",), "yuan": ("CNY",), "元": ("CNY",), "块": ("CNY",), "块钱": ("CNY",), "人民币": ("CNY",),
    "euro": ("EUR",), "euros": ("EUR",), "欧元": ("EUR",), "英镑": ("GBP",),
    "日元": ("JPY",), "港元": ("HKD",), "港币": ("HKD",),
}
_TABLE.update({code.lower(): (code,) for code in ISO_CODES})

CURRENCY_MARKERS: Mapping[str, tuple[str, ...]] = MappingProxyType(_TABLE)
"""Lower-cased marker -> the ISO codes it can mean, the default first."""


def currency_of(marker: str, context: str | None = None) -> str | None:
    """The ISO code ``marker`` means where prices are in ``context`` (an ISO code, or None); None if unknown.

    ``currency_of("¥") == "CNY"``, ``currency_of("¥", "JPY") == "JPY"``, ``currency_of("元", "JPY") == "CNY"``.
    """
    readings = _TABLE.get(marker.strip().lower())
    if readings is None:
        return None
    if context:
        context = context.strip().upper()
        if context in readings:
            return context
    return readings[0]
