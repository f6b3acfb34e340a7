"""Which language the answer is written in."""

from __future__ import annotations

import re

# Scripts, shared by the language detector, the prose check and hybrid retrieval.
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
KANA = re.compile(r"[\u3040-\u30ff]")
HANGUL = re.compile(r"[\uac00-\ud7af]")

LANGUAGE_NAMES = {
    "zh": "Simplified Chinese (简体中文)",
    "zh-cn": "Simplified Chinese (简体中文)",
    "zh-tw": "Traditional Chinese (繁體中文)",
    "zh-hk": "Traditional Chinese (繁體中文)",
    "en": "English",
    "ja": "Japanese (日本語)",
    "ko": "Korean (한국어)",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "ru": "Russian",
}


def detect_language(text: str) -> str:
    """The script-level language of ``text``: kana → ja, hangul → ko, Han → zh, otherwise en."""
    if KANA.search(text):
        return "ja"
    if HANGUL.search(text):
        return "ko"
    if HAN.search(text):
        return "zh"
    return "en"


def answer_language(query: str, requested: str | None) -> str:
    """The request's ``language`` if set (normalized), else the query's own language."""
    if requested:
        return requested.strip().lower().replace("_", "-")
    return detect_language(query)


def language_name(code: str) -> str:
    """A name the model understands for a language code (falls back to the base code, then the code)."""
    return LANGUAGE_NAMES.get(code) or LANGUAGE_NAMES.get(code.split("-")[0]) or code


def is_chinese(code: str) -> bool:
    return code.split("-")[0] == "zh"
