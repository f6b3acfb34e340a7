"""Is a model-written reason or summary fit to show a shopper?

A schema-valid answer can still be unusable prose: a small model under constrained decoding may
loop on a product id until the length cap ("SG-OUT-0011_SG-OUT-0011_…"), or answer a Chinese
request in English. Such text is replaced by one built from the product's facts.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Collection

from service.text.script import HAN, HANGUL, KANA

_LETTER = re.compile(r"[^\W\d_]")
# zlib shrinks ordinary sentences to 60-100 % of their UTF-8 size; a text looping on one phrase
# goes far lower. Checked only on texts long enough for the ratio to mean something.
_MIN_RATIO = 0.4
_MIN_CHARS_FOR_RATIO = 40


def _script_fits(text: str, language: str) -> bool:
    lang = language.lower()
    if lang.startswith("zh"):
        return len(HAN.findall(text)) >= 2
    if lang == "ja":
        return bool(KANA.search(text) or HAN.search(text))
    if lang == "ko":
        return bool(HANGUL.search(text))
    return len(_LETTER.findall(text)) >= 3


def repetitive(text: str) -> bool:
    """True when ``text`` is mostly one phrase repeated."""
    raw = text.encode("utf-8")
    if len(text) < _MIN_CHARS_FOR_RATIO:
        return False
    return len(zlib.compress(raw, 9)) / len(raw) < _MIN_RATIO


def usable(text: str, language: str, internal_ids: Collection[str] = ()) -> bool:
    """Non-empty, in the answer's script, not looping, and free of internal product ids."""
    text = text.strip()
    if not text or not _script_fits(text, language) or repetitive(text):
        return False
    return not any(pid and pid in text for pid in internal_ids)
