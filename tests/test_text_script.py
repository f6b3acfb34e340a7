"""The one definition of Han, kana and hangul, and the script-level language of a text."""

from __future__ import annotations

import re

import pytest

from service.text.script import HAN, HAN_CHARS, detect_language, has_han


@pytest.mark.parametrize(
    "ch",
    ["中", "鿿", "㐀", "䶿", "豈", "\U00020000", "\U0002a6d6"],  # base, ext A, compatibility, ext B
)
def test_every_han_block_counts(ch: str) -> None:
    assert has_han(ch)
    assert HAN.fullmatch(ch)
    assert re.fullmatch(f"[{HAN_CHARS}]", ch)


@pytest.mark.parametrize("ch", ["a", "1", "。", "ひ", "カ", "한", "䷀", "Ω", "😀"])  # ䷀: a Yijing hexagram, not Han
def test_other_characters_are_not_han(ch: str) -> None:
    assert not has_han(ch)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("我想买一款适合冬天穿的羽绒服", "zh"),
        ("iPhone 15 手机壳", "zh"),
        ("冬用のダウンジャケット", "ja"),  # kana wins over the Han in it
        ("겨울 패딩", "ko"),
        ("a gaming laptop under $1500", "en"),
        ("", "en"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang
