"""Numbers as shoppers write them: "1,500", "1.5k", "2千", "1.5万", "两千", "三百五"."""

from __future__ import annotations

import re
import unicodedata

from cn2an import cn2an

CJK_DIGITS = "零〇一二两三四五六七八九"
CJK_MAGNITUDES = "十百千万亿"
CJK_NUMERAL_CHARS = CJK_DIGITS + CJK_MAGNITUDES

_MULTIPLIERS = {"k": 1_000.0, "千": 1_000.0, "万": 10_000.0, "亿": 100_000_000.0}
# An Arabic number (optionally with thousands commas) and at most one multiplier suffix.
_ARABIC = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)?(\.\d+)?\s*([kK千万亿])?")
_CJK_ONLY = re.compile(f"[{CJK_NUMERAL_CHARS}]+")


def parse_chinese_number(text: str) -> float | None:
    """The value of a number written in Arabic digits, Chinese numerals or a mix; ``None`` if it is not one.

    Accepts "1500", "1,500", "1.5k", "2千", "1.5万", "一千", "两千", "三百五" (350), "一万二" (12000),
    "3千5" (3500) and full-width digits. Signs, fractions and words around the number are not accepted.
    """
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return None
    match = _ARABIC.fullmatch(text)
    if match and (match.group(1) or match.group(2)):
        whole, fraction, multiplier = match.groups()
        value = float((whole or "0").replace(",", "") + (fraction or ""))
        return value * _MULTIPLIERS[multiplier.lower()] if multiplier else value
    if not any(ch in CJK_NUMERAL_CHARS for ch in text):
        return None
    if _CJK_ONLY.fullmatch(text) is None and not re.fullmatch(rf"[\d.{CJK_NUMERAL_CHARS}]+", text):
        return None
    try:
        # "smart" mode reads colloquial forms (两千, 三百五, 1.5万); it raises ValueError on anything else.
        value = cn2an(text, "smart")
    except (ValueError, KeyError, IndexError):
        return None
    return float(value) if isinstance(value, (int, float)) else None
