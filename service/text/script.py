"""Which script a text is written in: the one definition of a Chinese (Han) character, kana and hangul.

Han is every CJK Unified Ideographs block (the base block, extension A, the compatibility block and the
supplementary extensions B onwards), so rare characters in brand and product names count too. Language
detection, prose checks, retrieval's tokenizer and dense routing, query understanding and the phrase
matcher all read these; nothing else in ``service/`` spells out a CJK range.
"""

from __future__ import annotations

import re

HAN_CHARS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
"""The Han ranges as the body of a regex character class, for patterns that embed them (``[...]``)."""
KANA_CHARS = r"\u3040-\u30ff"
HANGUL_CHARS = r"\uac00-\ud7af"

HAN = re.compile(f"[{HAN_CHARS}]")
KANA = re.compile(f"[{KANA_CHARS}]")
HANGUL = re.compile(f"[{HANGUL_CHARS}]")


def has_han(text: str) -> bool:
    """True if ``text`` holds a Han (Chinese) character."""
    return HAN.search(text) is not None


def detect_language(text: str) -> str:
    """The script-level language of ``text``: kana → ja, hangul → ko, Han → zh, otherwise en."""
    if KANA.search(text):
        return "ja"
    if HANGUL.search(text):
        return "ko"
    if HAN.search(text):
        return "zh"
    return "en"
