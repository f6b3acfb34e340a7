"""All checks on a variant, and the roll-up over variants."""

from __future__ import annotations

from service.catalog.product import Product
from service.copywriting.channels import channel_limits
from service.copywriting.checks import aggregate, check_variant, check_variants, keyword_coverage
from service.copywriting.compliance import ComplianceRules
from service.copywriting.grounding import product_facts
from service.copywriting.schema import CopyChecks, CopyVariant

JACKET = Product(
    id="dj-1",
    title="女士轻薄羽绒服 2025款",
    description="90%白鸭绒，蓬松度700，可抵御零下20℃。",
    price=299.0,
    currency="CNY",
    attributes={"颜色": ["黑色", "米白", "雾蓝"], "原价": 599},
)

TOOTHBRUSH = Product(
    id="tb-1",
    title="Bamboo Toothbrush 4-Pack",
    description="Soft bristles, bamboo handle.",
    price=12.99,
    currency="USD",
    attributes={"certifications": ["FSC 100%"], "pack_size": 4},
)


def test_clean_chinese_variant_passes() -> None:
    v = CopyVariant(
        headline="轻薄羽绒服，冬日暖心之选",
        body="90%白鸭绒填充，蓬松度700，零下20度也不怕。原价599元，现价299元。",
        bullets=["三色可选", "2025款新品", "轻盈保暖"],
        cta="立即购买",
    )
    checks = check_variant(
        v,
        JACKET,
        limits=channel_limits("pdp"),
        keywords=["羽绒服", "白鸭绒", "保暖"],
        banned_words=["便宜"],
        compliance=ComplianceRules.default("zh"),
    )
    assert checks == CopyChecks(keywords_covered=["羽绒服", "白鸭绒", "保暖"])
    assert checks.ok


def test_bad_chinese_variant_reports_everything() -> None:
    v = CopyVariant(
        headline="全网最低价！年度最佳羽绒服，今日疯狂促销不要错过哦亲们快来抢购吧",
        body="95%白鸭绒，充电宝级别的保暖，只要199元，打五折，超便宜",
        bullets=["四色可选"],
        cta="马上抢",
    )
    checks = check_variant(
        v,
        JACKET,
        limits=channel_limits("search_ad"),
        keywords=["羽绒服", "轻薄"],
        banned_words=["便宜", "抢购"],
        compliance=ComplianceRules.default("zh"),
    )
    assert checks.banned_hits == ["抢购", "便宜"]
    assert not checks.banned_words_ok
    assert checks.compliance_hits == ["全网最低价", "最佳"]
    assert checks.keywords_covered == ["羽绒服"]
    assert checks.keywords_missing == ["轻薄"]
    assert checks.unsupported_claims == ["95%", "199元", "四色"]
    assert not checks.length_ok
    assert checks.length_problems == ["headline: 32 characters, max 30"]
    assert not checks.ok


def test_english_variant_with_certification_and_claims() -> None:
    v = CopyVariant(
        headline="Eco-friendly bamboo toothbrushes",
        body="Guaranteed to last. Clinically proven to whiten teeth. Only $12.99 for a 4-pack.",
        bullets=["Sustainable bamboo handle", "Now 50% off"],
        cta="Shop now",
    )
    checks = check_variant(
        v,
        TOOTHBRUSH,
        limits=channel_limits("email"),
        keywords=["Bamboo Toothbrush", "biodegradable"],
        compliance=ComplianceRules.default("en"),
    )
    assert checks.compliance_hits == ["guaranteed", "clinically proven"]  # eco terms allowed: FSC certified
    assert checks.unsupported_claims == ["50% off"]
    assert checks.keywords_covered == ["Bamboo Toothbrush"]
    assert checks.keywords_missing == ["biodegradable"]
    assert checks.length_ok and checks.banned_words_ok


def test_eco_claim_flagged_without_certificate() -> None:
    product = Product(id="p", title="Bamboo toothbrush", price=5.0)
    v = CopyVariant(headline="Eco-friendly brush", body="Made from bamboo.", bullets=[], cta="Buy")
    assert check_variant(v, product, compliance=ComplianceRules.default("en")).compliance_hits == ["eco-friendly"]


def test_skipped_checks() -> None:
    v = CopyVariant(headline="最佳" * 40, body="b", bullets=[], cta="c")
    checks = check_variant(v, JACKET)
    assert checks.length_ok and checks.compliance_hits == [] and checks.ok


def test_keyword_coverage_is_normalized() -> None:
    text = "Ｄｏｗｎ Jackets for winter — 轻薄羽绒服"
    assert keyword_coverage(text, ["down jacket", "WINTER", "羽绒", "parka", "", "winter"]) == (
        ["down jacket", "WINTER", "羽绒", "winter"],
        ["parka"],
    )
    assert keyword_coverage("undown", ["down"]) == ([], ["down"])


def test_check_variants_and_aggregate() -> None:
    good = CopyVariant(headline="轻薄羽绒服", body="90%白鸭绒，仅需299元", bullets=["三色可选"], cta="购买")
    bad = CopyVariant(headline="最佳羽绒服" * 10, body="95%白鸭绒", bullets=["五色可选"], cta="购买")
    checks = check_variants(
        [good, bad],
        product_facts(JACKET),
        limits=channel_limits("ad"),
        keywords=["羽绒服", "白鸭绒", "轻薄"],
        banned_words=["最佳"],
        compliance=ComplianceRules.default("zh"),
    )
    assert checks[0].ok and not checks[1].ok
    total = aggregate(checks)
    assert total.banned_hits == ["最佳"] and not total.banned_words_ok
    assert total.compliance_hits == ["最佳"]
    assert total.unsupported_claims == ["95%", "五色"]
    assert total.keywords_covered == ["羽绒服", "白鸭绒"]
    assert total.keywords_missing == ["轻薄"]
    assert total.length_problems == ["variant 1: headline: 50 characters, max 40"]
    assert not total.length_ok and not total.ok


def test_aggregate_of_nothing_is_clean() -> None:
    assert aggregate([]) == CopyChecks()


def test_brand_is_not_a_compliance_hit() -> None:
    bike = Product(id="b", title="永久自行车 经典款", brand="永久", price=599.0, currency="CNY")
    v = CopyVariant(headline="永久经典自行车", body="顶级做工，骑行更轻松", bullets=[], cta="购买")
    assert check_variant(v, bike, compliance=ComplianceRules.default("zh")).compliance_hits == ["顶级"]
