from __future__ import annotations

import pytest

from service.retrieve.tokenize import Analyzer, Term


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory: pytest.TempPathFactory) -> Analyzer:
    return Analyzer(cache_dir=tmp_path_factory.mktemp("jieba"))


def test_chinese_query_keeps_product_words_and_drops_filler(analyzer: Analyzer) -> None:
    tokens = analyzer.tokens("我想买一款适合冬天穿的羽绒服")
    assert "羽绒服" in tokens
    assert "羽绒" in tokens  # search mode also emits the shorter word
    assert "冬天" in tokens
    for filler in ("我", "想", "买", "一款", "适合", "的"):
        assert filler not in tokens


def test_ecommerce_compounds_stay_whole(analyzer: Analyzer) -> None:
    assert "充电宝" in analyzer.tokens("20000毫安充电宝")
    assert "冲锋衣" in analyzer.tokens("户外防水冲锋衣")


def test_english_is_lowercased_stemmed_and_stopwords_dropped(analyzer: Analyzer) -> None:
    assert analyzer.tokens("The Running Shoes for a Runner's feet") == ["run", "shoe", "runner", "feet"]
    assert analyzer.tokens("I want to buy a gaming laptop") == ["game", "laptop"]


def test_product_words_general_stopword_lists_drop_are_kept(analyzer: Analyzer) -> None:
    assert analyzer.tokens("down jacket") == ["down", "jacket"]


def test_full_width_text_equals_half_width(analyzer: Analyzer) -> None:
    assert analyzer.tokens("ｉＰｈｏｎｅ　１５　ＰＲＯ") == analyzer.tokens("iPhone 15 Pro") == ["iphon", "15", "pro"]


def test_numbers_are_kept_with_decimals(analyzer: Analyzer) -> None:
    assert analyzer.tokens("15.6 inch, 20000mAh, RTX4060") == ["15.6", "inch", "20000", "mah", "rtx", "4060"]


def test_mixed_script_text(analyzer: Analyzer) -> None:
    tokens = analyzer.tokens("iPhone 15 手机壳")
    assert tokens[:2] == ["iphon", "15"]
    assert "手机壳" in tokens and "手机" in tokens
    # no space between scripts
    glued = analyzer.tokens("iPhone15手机壳")
    assert glued[:2] == ["iphon", "15"] and "手机壳" in glued


def test_query_terms_are_distinct_and_keep_the_shoppers_word(analyzer: Analyzer) -> None:
    assert analyzer.query_terms("Shoes shoe SHOES 羽绒服 羽绒服") == [
        Term("shoe", "shoes"),
        Term("羽绒", "羽绒"),
        Term("羽绒服", "羽绒服"),
    ]


def test_empty_and_punctuation_only_text(analyzer: Analyzer) -> None:
    assert analyzer.tokens("") == []
    assert analyzer.tokens("！？…—,./") == []


def test_jieba_is_quiet_and_caches_in_the_given_dir(tmp_path, capfd: pytest.CaptureFixture[str]) -> None:
    fresh = Analyzer(cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # nothing loads at construction
    assert fresh.tokens("羽绒服") == ["羽绒", "羽绒服"]
    assert (tmp_path / "cache" / "jieba.cache").is_file()
    assert "prefix dict" not in capfd.readouterr().err


def test_fingerprint_follows_the_word_lists() -> None:
    assert Analyzer().fingerprint == Analyzer().fingerprint
    assert Analyzer(english_stopwords={"the"}).fingerprint != Analyzer().fingerprint
    assert Analyzer(user_words=()).fingerprint != Analyzer().fingerprint
