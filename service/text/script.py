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


LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f][A-Za-z\u00c0-\u024f'’\-]*")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
SCRIPT_LANGUAGES = ("zh", "ja", "ko", "latin")


def scripts_in(text: str) -> set[str]:
    """The scripts ``text`` is written in, as languages: ``zh`` (Han without kana), ``ja`` (kana), ``ko``
    (hangul), ``latin`` (Latin letters). Han next to kana is Japanese, so a Japanese text is not also ``zh``."""
    found: set[str] = set()
    if KANA.search(text):
        found.add("ja")
    elif HAN.search(text):
        found.add("zh")
    if HANGUL.search(text):
        found.add("ko")
    if _LATIN_LETTER.search(text):
        found.add("latin")
    return found


def script_runs(text: str, chars: str) -> list[str]:
    """Runs of the characters of one script class (e.g. :data:`HAN_CHARS`) with the full-width punctuation
    (and ASCII punctuation, which NFKC makes of it) inside and after them:
    ``"Great, 全网最低价，品质最佳！"`` -> ``["全网最低价，品质最佳！"]``."""
    inner = rf"[{chars}\u3000-\u303f\uff01-\uff0f\uff1a-\uff20,.!?;:、 ]*"
    pattern = re.compile(rf"[{chars}](?:{inner}[{chars}])?[\u3000-\u303f\uff01-\uff0f!?.]*")
    return [m.group(0).strip() for m in pattern.finditer(text)]
