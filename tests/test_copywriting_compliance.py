"""Per-market compliance lists, banned words, and their configuration."""

from __future__ import annotations

import pytest

from service.bulk.factory import copy_extra_terms
from service.catalog.product import Product
from service.copywriting.compliance import (
    ComplianceRules,
    compliance_rules,
    find_banned,
    has_certification,
    parse_term_list,
    primary_language,
)
from service.errors import ConfigError
from service.settings import load_settings

ZH = ComplianceRules.default("zh-CN")
EN = ComplianceRules.default("en-US")


# -- zh: 广告法 ------------------------------------------------------------------------------------
def test_zh_superlatives_are_caught_longest_first() -> None:
    text = "年度最佳羽绒服，全网最低价，手慢无"
    assert ZH.find(text) == ["最佳", "全网最低价"]


def test_zh_full_list_samples() -> None:
    text = "国家级品质，世界级工艺，顶级面料，极致保暖，唯一之选，首个发布，独家配方，史无前例，万能百搭，永久保修，绝对领先"
    assert ZH.find(text) == [
        "国家级", "世界级", "顶级", "极致", "唯一", "首个", "独家配方", "史无前例", "万能", "永久", "绝对", "领先",
    ]


def test_bare_zui_is_caught_but_not_in_everyday_words() -> None:
    assert ZH.find("最保暖的一款") == ["最"]
    assert ZH.find("最近很多人问，最后一天发货前下单") == []
    assert ZH.find("最后一波，错过等一年") == ["最后一波"]


def test_first_time_is_no_ranking() -> None:
    assert ZH.find("第一次穿就爱上了，第一时间发货") == []
    assert ZH.find("销量第一") == ["销量第一"]
    assert ZH.find("全网第一") == ["全网第一"]


def test_fibre_content_is_not_an_absolute() -> None:
    assert ZH.find("100%纯棉面料") == []
    assert ZH.find("100%有效") == ["100%"]


def test_zh_medical_claims_are_caught() -> None:
    assert ZH.find("这款枕头能治疗失眠，根治颈椎病") == ["治疗", "根治"]


def test_ascii_terms_in_zh_respect_word_edges() -> None:
    assert ZH.find("销量NO.1的充电宝") == ["NO.1"]
    assert ZH.find("TOP10榜单") == []


def test_zh_environmental_claims_need_a_certificate() -> None:
    assert ZH.find("环保面料") == ["环保"]
    assert ZH.find("环保面料", certified=True) == []


def test_full_width_text_is_normalized() -> None:
    assert ZH.find("１００％有效") == ["100%"]


# -- en ------------------------------------------------------------------------------------------------
def test_en_regulated_claims_are_caught_case_insensitively() -> None:
    text = "GUARANTEED to work. Clinically Proven formula, FDA-approved, doctor recommended. Risk free!"
    assert EN.find(text) == ["guaranteed", "clinically proven", "FDA approved", "doctor recommended", "risk-free"]


def test_en_word_boundaries() -> None:
    assert EN.find("Keeps your first aid kit secure; the best for travel; bestow a gift") == []
    assert EN.find("The #1 seller") == ["#1"]
    assert EN.find("Our #10 pick") == []
    assert EN.find("A miracle cream that cures acne") == ["miracle", "cures"]


def test_eco_claims_allowed_only_when_certified() -> None:
    text = "Eco friendly, biodegradable packaging made from sustainable bamboo."
    assert EN.find(text) == ["eco-friendly", "biodegradable", "sustainable"]
    assert EN.find(text, certified=True) == []


@pytest.mark.parametrize(
    "product",
    [
        Product(id="p", title="Bamboo toothbrush", attributes={"certifications": ["FSC"]}),
        Product(id="p", title="T-shirt", attributes={"standard": "OEKO-TEX Standard 100"}),
        Product(id="p", title="T-shirt", tags=["GOTS certified"]),
        Product(id="p", title="Monitor", attributes={"energy": {"label": "Energy Star 8.0"}}),
        Product(id="p", title="羽绒服", attributes={"认证": "中国环境标志（十环）"}),
    ],
)
def test_certifications_are_found_in_product_data(product: Product) -> None:
    assert has_certification(product)


@pytest.mark.parametrize(
    "product",
    [
        Product(id="p", title="Bamboo toothbrush", description="Natural bamboo handle"),
        Product(id="p", title="Phone", attributes={"condition": "Certified Refurbished"}),
        Product(id="p", title="Bag", tags=["gotsome"]),
    ],
)
def test_no_certification_without_evidence(product: Product) -> None:
    assert not has_certification(product)


def test_locale_selects_list() -> None:
    assert ComplianceRules.default("en").find("最佳") == []
    assert ComplianceRules.default("zh").find("guaranteed") == []
    assert ComplianceRules.default("fr").terms == ()


# -- configuration --------------------------------------------------------------------------------------
def test_extended_adds_terms_and_keeps_defaults() -> None:
    rules = ZH.extended(["爆款", " ", "秒杀"])
    assert rules.find("爆款秒杀，最佳") == ["爆款", "秒杀", "最佳"]
    assert ZH.find("爆款") == []


def test_compliance_rules_from_settings() -> None:
    extras = {"zh": ["爆款"], "*": ["free gift"], "en": ["unbeatable"]}
    zh = compliance_rules("zh-Hans", mode="default", extra_terms=extras)
    assert zh.find("爆款最佳 free gift unbeatable") == ["爆款", "最佳", "free gift"]
    off = compliance_rules("zh", mode="off", extra_terms=extras)
    assert off.find("爆款最佳") == ["爆款"]
    assert compliance_rules("en", mode="off").find("guaranteed cure") == []
    with pytest.raises(ValueError, match="SHOPGUIDE_COPY_COMPLIANCE"):
        compliance_rules("en", mode="strict")


def test_extra_terms_from_settings(monkeypatch) -> None:
    env = {
        "SHOPGUIDE_COPY_EXTRA_BANNED_ZH": "爆款、秒杀,抄底",
        "SHOPGUIDE_COPY_EXTRA_BANNED_EN": '["free gift", "unbeatable"]',
        "SHOPGUIDE_COPY_EXTRA_BANNED": "limited",
        "SHOPGUIDE_COPY_COMPLIANCE": "default",
        "PATH": "/bin",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert copy_extra_terms(load_settings()) == {
        "zh": ("爆款", "秒杀", "抄底"),
        "en": ("free gift", "unbeatable"),
        "*": ("limited",),
    }
    monkeypatch.setenv("SHOPGUIDE_COPY_EXTRA_BANNED_EN", '["ok", 3]')
    with pytest.raises(ConfigError, match="SHOPGUIDE_COPY_EXTRA_BANNED_EN"):
        load_settings()


def test_parse_term_list() -> None:
    assert parse_term_list(None) == ()
    assert parse_term_list("  ") == ()
    assert parse_term_list("a, b\nc，d、e") == ("a", "b", "c", "d", "e")
    assert parse_term_list('["x, y"]') == ("x, y",)


def test_primary_language() -> None:
    assert primary_language("zh_Hant_TW") == "zh"
    assert primary_language("EN-us") == "en"
    assert primary_language(None) == ""


# -- banned words from the request ----------------------------------------------------------------------
def test_find_banned_case_width_and_chinese() -> None:
    text = "Ｃｈｅａｐ and cheerful — 便宜又好用, big SALE"
    assert find_banned(text, ["cheap", "便宜", "sale", "expensive"]) == ["cheap", "便宜", "sale"]


def test_find_banned_whole_words_and_prefix() -> None:
    text = "Wholesale prices, cheaper than ever"
    assert find_banned(text, ["sale", "cheap"]) == []
    assert find_banned(text, ["cheap*"]) == ["cheap*"]


def test_find_banned_ignores_blank_words() -> None:
    assert find_banned("anything", ["", "  "]) == []


def test_allowing_hides_terms_inside_exceptions() -> None:
    rules = ZH.allowing(["永久", " "])
    assert rules.find("永久自行车，经典二八大杠，最佳通勤") == ["最佳"]
    assert ZH.find("永久自行车") == ["永久"]
    assert ZH.allowing([]) is ZH


def test_allow_per_call_matches_allowing() -> None:
    text = "永久自行车，最佳通勤"
    assert ZH.find(text, allow=["永久", ""]) == ZH.allowing(["永久"]).find(text) == ["最佳"]
