"""PhraseIndex, the one phrase matcher: whole words in spaced scripts, substrings in Han, prefixes, leftmost-longest."""

from __future__ import annotations

import pytest

from service.text.phrases import PhraseIndex, leftmost_longest, normalize, phrase_key, stem


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


# -- the rules copy's term lists rely on (they were copywriting/terms.TermMatcher's) ------------------
def test_text_is_nfkc_folded_and_positions_point_into_the_folded_text() -> None:
    index: PhraseIndex[str] = PhraseIndex()
    index.add("best", "best")
    index.add("100%", "100%")
    text = "ＢＥＳＴ １００％"
    found = [(m.value, normalize(text)[m.start : m.end]) for m in index.find(text)]
    assert found == [("best", "BEST"), ("100%", "100%")]


def test_whole_words_and_literal_punctuation() -> None:
    index: PhraseIndex[str] = PhraseIndex()
    for term in ("best", "#1", "NO.1"):
        index.add(term, term)
    assert [m.value for m in index.find("the best, #1 and NO.1")] == ["best", "#1", "NO.1"]
    assert index.find("bestow #10 NO. 1 TOP10") == []


def test_spaces_and_hyphens_match_any_run_of_them_or_none() -> None:
    index: PhraseIndex[str] = PhraseIndex()
    index.add("eco-friendly", "eco")
    for text in ("eco friendly", "Eco-Friendly", "eco -  friendly", "ecofriendly"):
        assert [m.value for m in index.find(text)] == ["eco"], text
    apart: PhraseIndex[str] = PhraseIndex(run_together=False)
    apart.add("eco-friendly", "eco")
    assert apart.find("ecofriendly") == [] and len(apart.find("eco friendly")) == 1


def test_han_written_together_must_be_together() -> None:
    index: PhraseIndex[str] = PhraseIndex()
    index.add("羽绒服", "down")
    assert len(index.find("轻薄羽绒服")) == 1
    assert index.find("羽绒 服") == []


def test_punctuation_ignored_for_shopper_text() -> None:
    index: PhraseIndex[str] = PhraseIndex(punctuation="ignore")
    index.add("Levi's", "levis")
    index.add("Dr. Martens", "dm")
    assert [m.value for m in index.find("levi’s jeans, dr martens boots")] == ["levis", "dm"]
    literal: PhraseIndex[str] = PhraseIndex()
    literal.add("Dr. Martens", "dm")
    assert literal.find("dr martens") == []


def test_trailing_star_is_a_prefix() -> None:
    index: PhraseIndex[str] = PhraseIndex()
    index.add("cheap*", "cheap")
    index.add("down jacket*", "dj")
    assert [m.value for m in index.find("cheaper down jackets")] == ["cheap", "dj"]
    assert index.find("wholesale") == []


def test_find_is_leftmost_longest_and_find_all_keeps_every_match() -> None:
    index: PhraseIndex[str] = PhraseIndex()
    for phrase in ("最", "最佳", "佳羽绒服"):
        index.add(phrase, phrase)
    assert [m.value for m in index.find("最佳羽绒服")] == ["最佳"]  # leftmost first, though a longer one follows
    assert [m.value for m in index.find_all("最佳羽绒服")] == ["最佳", "最", "佳羽绒服"]


def test_earlier_phrase_wins_a_tie_so_exceptions_added_first_shadow_terms() -> None:
    index: PhraseIndex[str | None] = PhraseIndex()
    index.add("最近", None)  # an exception
    index.add("最", "最")
    assert [m.value for m in index.find("最近最好")] == [None, "最"]
    extra: PhraseIndex[str | None] = PhraseIndex()
    extra.add("最好", None)
    assert [m.value for m in leftmost_longest(extra.find_all("最近最好") + index.find_all("最近最好"))] == [None, None]


def test_key_says_which_phrases_find_the_same_text() -> None:
    index: PhraseIndex[str] = PhraseIndex()
    assert index.key("Down Jacket") == index.key("down  jacket") == index.key("ＤＯＷＮ jacket")
    assert index.key("down-jacket") == index.key("down jacket")
    assert index.key("down jacket*") != index.key("down jacket")
    assert index.key(" * ") is None
