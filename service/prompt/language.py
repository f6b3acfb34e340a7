"""Which language the answer is written in."""

from __future__ import annotations

from service.text.script import detect_language

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


def answer_language(query: str, requested: str | None) -> str:
    """The request's ``language`` if set (normalized), else the query's own language."""
    if requested:
        return requested.strip().lower().replace("_", "-")
    return detect_language(query)


def language_name(code: str) -> str:
    """A name the model understands for a language code (falls back to the base code, then the code)."""
    return LANGUAGE_NAMES.get(code) or LANGUAGE_NAMES.get(code.split("-")[0]) or code


def is_chinese(code: str) -> bool:
    """Whether a language *code* (not a text) is Chinese: ``zh``, ``zh-TW``, ..."""
    return code.split("-")[0] == "zh"
