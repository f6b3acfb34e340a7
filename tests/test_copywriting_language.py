"""Issue 14 item 1: copy is checked in every script its text holds, and a variant in the wrong language is a finding."""

from __future__ import annotations

import pytest

from service.copywriting.checks import check_variant
from service.copywriting.compliance import ComplianceBook, text_languages
from service.copywriting.language import language_problems, product_words
from service.copywriting.schema import CopyVariant
from tests.support.copy_products import JACKET_ZH, POWER_BANK


def v(headline="VoltGo Slim Power Bank", body="Slim 5000mAh power bank with USB-C.", bullets=("USB-C",), cta="Shop now"):
    return CopyVariant(headline=headline, body=body, bullets=list(bullets), cta=cta)


def test_text_languages_follow_the_scripts_not_the_request():
    assert text_languages("Great power bank…全网最低价，品质最佳！", "en") == ["en", "zh"]
    assert text_languages("全网最低价 best ever", "zh") == ["zh", "en"]
    assert text_languages("Die beste Powerbank", "de") == ["de"]
    assert text_languages("軽量ダウンジャケット", "en") == ["en", "ja"]


def test_the_compliance_book_checks_chinese_claims_in_english_copy():
    """The issue's case: an English product with "…全网最低价，品质最佳！" had every check clean, also with strict."""
    book = ComplianceBook()
    checks = check_variant(v(body="Slim 5000mAh power bank…全网最低价，品质最佳！"), POWER_BANK, compliance=book, language="en")
    assert checks.compliance_hits == ["全网最低价", "最佳"] and not checks.ok
    assert checks.language_problems == ["body: Chinese/Japanese text in English copy: 全网最低价,品质最佳!"]  # NFKC
    english_claim = check_variant(
        v(headline="雪域羽绒服", body="白鹅绒，充绒量280g。The best ever, clinically proven.", bullets=(), cta="立即购买"),
        JACKET_ZH, compliance=book, language="zh",
    )
    assert english_claim.compliance_hits == ["best ever", "clinically proven"]
    assert english_claim.language_problems == ["body: a phrase not in Chinese: The best ever, clinically proven"]


def test_right_language_with_product_names_and_model_words_is_clean():
    assert language_problems(v(), "en", product_words(POWER_BANK)) == []
    zh = CopyVariant(
        headline="雪域女士长款鹅绒羽绒服", body="采用GORE-TEX面料与USB-C加热片，90%白鹅绒。",
        bullets=["长款", "Wi-Fi 6E / Bluetooth 5.3", "IPX7 waterproof"], cta="立即购买"
    )
    assert language_problems(zh, "zh", product_words(JACKET_ZH)) == []
    english_named = POWER_BANK.model_copy(update={"title": "暖途 Slim 充电宝"})
    assert language_problems(v(body="The 暖途 Slim 充电宝 fits any pocket."), "en", product_words(english_named)) == []


@pytest.mark.parametrize(
    ("variant", "language", "problem"),
    [
        (v(cta="立即购买"), "en", "cta: Chinese/Japanese text in English copy: 立即购买"),
        (CopyVariant(headline="雪域羽绒服", body="白鹅绒，充绒量280g。", bullets=[], cta="Shop now"), "zh",
         "cta: written in Latin letters, not Chinese: Shop now"),
        (CopyVariant(headline="Warm goose down coat", body="Long and warm.", bullets=[], cta="Buy it"), "zh",
         "headline: written in Latin letters, not Chinese: Warm goose down coat"),
        (CopyVariant(headline="雪域ダウンジャケット", body="白鹅绒。", bullets=[], cta="购买"), "zh",
         "headline: Japanese kana in Chinese copy"),
        (CopyVariant(headline="轻量羽绒服", body="白鹅绒。", bullets=[], cta="购买"), "ja",
         "written in Chinese characters without kana, not Japanese"),
        (v(body="Ein leichter Akku. 充电宝"), "de", "body: Chinese/Japanese text in de copy: 充电宝"),
    ],
)
def test_wrong_language_findings(variant, language, problem):
    assert problem in language_problems(variant, language, [])


def test_wrong_language_needs_regeneration_and_is_fatal():
    from service.copywriting.policy import fatal_reasons, needs_regeneration

    checks = check_variant(v(cta="立即购买"), POWER_BANK, language="en")
    assert needs_regeneration(checks)
    assert fatal_reasons(checks, strict=False) == ["language: cta: Chinese/Japanese text in English copy: 立即购买"]
