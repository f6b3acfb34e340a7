"""Numbers as people write them, in queries and in copy: "1,500", "1.5k", "2千", "1.5万", "两千", "三百五", "一点五".

One parser for query understanding (prices) and the copy grounding check (claims). It returns the
value and the decimals written, because a claim is compared within its own rounding ("4.8" is
4.75-4.85, "5" is 4.5-5.5).
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from cn2an import cn2an

CJK_DIGITS = "零〇一二两三四五六七八九"
CJK_MAGNITUDES = "十百千万亿"
CJK_NUMERAL_CHARS = CJK_DIGITS + CJK_MAGNITUDES
CJK_POINT = "点"

_MULTIPLIERS = {"k": 1_000.0, "千": 1_000.0, "万": 10_000.0, "亿": 100_000_000.0}
# An Arabic number (thousands commas only in whole groups) and at most one multiplier suffix.
_ARABIC = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)?(\.\d+)?\s*([kK千万亿])?")
_CJK_OR_MIXED = re.compile(rf"[\d.{CJK_NUMERAL_CHARS}{CJK_POINT}]+")
_PLACE_WORDS = frozenset(CJK_MAGNITUDES + CJK_POINT)
_CJK_DECIMAL = re.compile(rf"[^{CJK_POINT}]+{CJK_POINT}[{CJK_DIGITS}]+")  # "一点五"; "一点" is "a little"


class Number(NamedTuple):
    """A parsed number: its value and how many decimals were written ("1.50" -> 2, "一点五" -> 1)."""

    value: float
    decimals: int


def parse_number(text: str) -> Number | None:
    """The number ``text`` is, written in Arabic digits, Chinese numerals or a mix; ``None`` if it is not one.

    Accepts "1500", "1,500", "1,500.50", ".5", "1.5k", "2千", "1.5万", "1.2亿", "一千", "两千", "三百五"
    (350), "一万二" (12000), "3千5" (3500), "一点五" (1.5) and full-width digits (NFKC). A run of bare
    Chinese digits with no place word ("三五", "二〇二五") is an approximation or a code ("three or
    five"), not a number, and "一点" is "a little"; signs, ranges, badly grouped commas ("1,50") and
    words around the number are not accepted either.
    """
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return None
    match = _ARABIC.fullmatch(text)
    if match and (match.group(1) or match.group(2)):
        whole, fraction, multiplier = match.groups()
        value = float((whole or "0").replace(",", "") + (fraction or ""))
        decimals = len(fraction) - 1 if fraction else 0
        return Number(value * _MULTIPLIERS[multiplier.lower()] if multiplier else value, decimals)
    if not any(ch in CJK_NUMERAL_CHARS for ch in text) or _CJK_OR_MIXED.fullmatch(text) is None:
        return None
    if len(text) > 1 and not any(ch in _PLACE_WORDS for ch in text):
        return None
    if CJK_POINT in text and _CJK_DECIMAL.fullmatch(text) is None:
        return None
    try:
        # "smart" mode reads colloquial forms (两千, 三百五, 1.5万); it raises ValueError on anything else.
        value = cn2an(text, "smart")
    except (ValueError, KeyError, IndexError):
        return None
    if not isinstance(value, (int, float)):
        return None
    decimals = len(text.split(CJK_POINT, 1)[1]) if CJK_POINT in text else 0
    return Number(float(value), decimals)
