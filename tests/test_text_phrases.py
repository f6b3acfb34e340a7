"""PhraseIndex: whole-word Latin matches, CJK substrings, longest match wins."""

from __future__ import annotations

import pytest

from service.text.phrases import PhraseIndex, phrase_key, stem


@pytest.mark.parametrize(
    ("word", "expected"),
    [("shoes", "shoe"), ("batteries", "battery"), ("dresses", "dress"), ("boxes", "box"), ("glass", "glass"),
     ("tvs", "tv"), ("tv", "tv"), ("bus", "bus")],
)
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_latin_phrases_match_whole_words_case_insensitively() -> None:
    index: PhraseIndex[str] = PhraseIndex()
    index.add("Nike", "Nike")
    assert [m.value for m in index.find("NIKE running shoes")] == ["Nike"]
    assert index.find("nikeland shoes") == []
    assert index.find("mynike") == []
    assert [(m.start, m.end) for m in index.find("耐克Nike跑鞋")] == [(2, 6)]


def test_longest_overlapping_match_wins() -> None:
    index: PhraseIndex[str] = PhraseIndex()
    index.add("Armour", "short")
    index.add("Under Armour", "long")
    index.add("羽绒", "short-cjk")
    index.add("羽绒服", "long-cjk")
    assert [m.value for m in index.find("under armour hoodie")] == ["long"]
    assert [m.value for m in index.find("armour")] == ["short"]
    assert [m.value for m in index.find("女款羽绒服")] == ["long-cjk"]
    assert [m.value for m in index.find("羽绒被")] == ["short-cjk"]


def test_stemmed_index_folds_plurals_both_ways() -> None:
    index: PhraseIndex[str] = PhraseIndex(stemmed=True)
    index.add("Power Banks", "pb")
    assert [m.value for m in index.find("a power bank please")] == ["pb"]
    assert [m.value for m in index.find("power banks")] == ["pb"]


def test_first_value_for_a_phrase_is_kept() -> None:
    index: PhraseIndex[str] = PhraseIndex()
    assert index.add("laptop", "first")
    assert not index.add("Laptop", "second")
    assert not index.add("  ", "blank")
    assert [m.value for m in index.find("laptop")] == ["first"]
    assert len(index) == 1


def test_matches_come_back_in_text_order() -> None:
    index: PhraseIndex[int] = PhraseIndex()
    for i, phrase in enumerate(["sony", "bose", "耳机"]):
        index.add(phrase, i)
    assert [m.value for m in index.find("耳机 bose or sony")] == [2, 1, 0]


def test_phrase_key() -> None:
    assert phrase_key("Rain Jackets", stemmed=True) == ("rain", "jacket")
    assert phrase_key("T-Shirts", stemmed=True) == ("t", "shirt")
    assert phrase_key("羽绒服", stemmed=True) == "羽绒服"
    assert phrase_key("!!", stemmed=False) is None
