import json

import pytest

from service.catalog.product import Product
from service.errors import InvalidOutput
from service.output.explain import fact_reason, fact_summary, format_price
from service.output.parse import parse_output
from service.output.reconcile import reconcile
from service.output.schema import (
    RecommendOutput,
    recommend_grammar_schema,
    recommend_schema,
    without_unique_items,
)
from service.retrieve.base import Candidate
from service.validate.recommend import Filters


def candidates(n=5):
    return [
        Candidate(
            Product(
                id=f"P{i}",
                title=f"Down jacket {i}",
                category="Clothing/Outerwear/Down",
                brand="Northpeak",
                price=100.0 + i,
                currency="USD",
                attributes={"fill_power": 700 + i},
            ),
            score=10.0 - i,
            matched_terms=("down", "jacket"),
        )
        for i in range(n)
    ]


def walk_objects(node):
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield node
        for value in node.values():
            yield from walk_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_objects(value)


def test_schema_is_openai_strict():
    schema = recommend_schema()
    objects = list(walk_objects(schema))
    assert len(objects) == 2
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])


def test_grammar_schema_restricts_ids_and_counts():
    schema = recommend_grammar_schema(["A", "B", "B", "C"], k=5)
    assert schema["$defs"]["Pick"]["properties"]["id"]["enum"] == ["A", "B", "C"]
    assert schema["properties"]["items"]["minItems"] == schema["properties"]["items"]["maxItems"] == 3
    assert schema["$defs"]["Pick"]["properties"]["reason"]["maxLength"] > 0
    assert "enum" not in recommend_schema()["$defs"]["Pick"]["properties"]["id"]  # the static one stays untouched
    assert schema["properties"]["items"]["uniqueItems"] is True and "uniqueItems" not in json.dumps(recommend_schema())
    assert "uniqueItems" not in json.dumps(without_unique_items(schema))


@pytest.mark.parametrize(
    ("text", "repaired"),
    [
        ('{"items": [{"id": "P1", "reason": "warm"}], "summary": "s"}', False),
        ('Here you go:\n```json\n{"items": [{"id": "P1", "reason": "warm"}], "summary": "s"}\n```\nEnjoy!', True),
        ('Sure! {"items": [{"id": "P1", "reason": "warm", "extra": 1}]} Anything else?', True),
        ('{"note": "x"} {"items": [{"id": "P1", "reason": "warm"}], "summary": "s"}', True),
    ],
)
def test_parse_accepts_and_repairs(text, repaired):
    parsed = parse_output(text, RecommendOutput)
    assert parsed.repaired is repaired
    assert parsed.value.items[0].id == "P1"


@pytest.mark.parametrize("text", ["I recommend P1!", '{"items": "P1"}', '{"items": [{"id": "P1"}]}', "", "```json\n{\n```"])
def test_parse_rejects_what_cannot_be_repaired(text):
    with pytest.raises(InvalidOutput):
        parse_output(text, RecommendOutput)


def test_numeric_ids_are_read_as_strings():
    assert parse_output('{"items": [{"id": 7, "reason": "r"}], "summary": ""}', RecommendOutput).value.items[0].id == "7"


def test_reconcile_drops_unknown_and_duplicate_ids_and_fills_from_retrieval():
    output = RecommendOutput.model_validate(
        {
            "items": [
                {"id": "P3", "reason": "Best warmth."},
                {"id": "NOPE", "reason": "invented"},
                {"id": "P3", "reason": "again"},
                {"id": " P1 ", "reason": "  "},
            ],
            "summary": "s",
        }
    )
    fixed = reconcile(output, candidates(), k=4, filters=Filters(), language="en")
    assert [i.id for i in fixed.items] == ["P3", "P1", "P0", "P2"]
    assert [i.source for i in fixed.items] == ["llm", "llm", "retrieval", "retrieval"]
    assert fixed.invalid_ids == 1 and fixed.duplicate_ids == 1 and fixed.filled == 2
    assert fixed.items[0].reason == "Best warmth."
    assert "Northpeak" in fixed.items[1].reason  # empty reason replaced by facts


def test_reconcile_caps_at_k_and_handles_no_output():
    output = RecommendOutput.model_validate({"items": [{"id": f"P{i}", "reason": "r"} for i in range(5)]})
    assert len(reconcile(output, candidates(), k=2, filters=Filters(), language="en").items) == 2
    degraded = reconcile(None, candidates(3), k=5, filters=Filters(), language="en")
    assert [i.id for i in degraded.items] == ["P0", "P1", "P2"]
    assert all(i.source == "retrieval" for i in degraded.items)


def test_a_chinese_fact_reason_says_only_what_reads_as_chinese():
    """A catalog's English attribute keys and category path stay out of a Chinese sentence; Chinese values speak
    for themselves, a Chinese key keeps its label. An English reason keeps them all."""
    product = Product(id="Z1", title="雪域 长款鹅绒羽绒服", category="Clothing/Outerwear/Down", brand="雪域", price=1899.0,
                      currency="CNY", attributes={"down_content_pct": 90, "fill_type": "白鹅绒", "长度": "过膝"})
    candidate = Candidate(product, 1.0, ("羽绒服",))
    zh = fact_reason(candidate, Filters(price_max=2000), "zh")
    assert zh == "匹配「羽绒服」。雪域品牌，售价 ¥1,899，在您 ¥2,000 以内的预算内，参数：白鹅绒，长度 过膝。有货。"
    en = fact_reason(candidate, Filters(), "en")
    assert "Clothing › Outerwear › Down" in en and "down content pct 90" in en and "fill type 白鹅绒" in en


def test_fact_reasons_use_only_product_facts():
    candidate = candidates(1)[0]
    en = fact_reason(candidate, Filters(price_max=150), "en")
    assert '"down"' in en and "$100" in en and "$150 budget" in en and "fill power 700" in en
    zh = fact_reason(candidate, Filters(price_max=150), "zh")
    assert "「down」" in zh and "预算" in zh and "有货" in zh
    assert "3" in fact_summary(3, "en") and "3 件" in fact_summary(3, "zh")


def test_format_price():
    assert format_price(1299.0, "CNY") == "¥1,299"
    assert format_price(19.99, "USD") == "$19.99"
    assert format_price(5, "CHF") == "5 CHF"


@pytest.mark.parametrize(
    ("reason", "language"),
    [
        ("P2_P2_P2_P2_P2_P2_P2_P2_P2_P2_P2_P2_P2_P2_P2_P2_P2_P2_P2_P2_P2_P2", "en"),  # a looping small model
        ("Warm jacket. Warm jacket. Warm jacket. Warm jacket. Warm jacket. Warm jacket.", "en"),
        ("Pick P2 for the cold", "en"),  # internal ids are not for shoppers
        ("Great for winter", "zh"),  # a Chinese request answered in English
        ("!!! 123 ???", "en"),
        ("素衡 男士石石石石石", "zh"),  # short, so no compression ratio: one character stuttering (the packaged model)
        ("Sooooo warm and light", "en"),
        ("美良良美良美良良", "zh"),  # two characters in turn
    ],
)
def test_unusable_reasons_are_replaced_by_facts_and_counted(reason, language):
    output = RecommendOutput.model_validate({"items": [{"id": "P2", "reason": reason}], "summary": "s"})
    fixed = reconcile(output, candidates(), k=1, filters=Filters(), language=language)
    item = fixed.items[0]
    assert item.id == "P2" and item.source == "llm"  # still the model's pick
    assert item.reason != reason and "Northpeak" in item.reason
    assert fixed.replaced_reasons == 1


@pytest.mark.parametrize(
    ("reason", "language"),
    [
        ("这款羽绒服采用90%白鸭绒填充，保暖性好，适合冬天日常通勤穿着。", "zh"),
        ("轻便保暖，适合初冬通勤。", "zh"),
        ("A warm 700-fill down jacket from Northpeak, within your budget.", "en"),
        ("Warm.", "en"),
        ("A 10000mAh battery for the cold trail.", "en"),  # digits may repeat
        ("Northpeak's warmest jacket.", "en"),  # its own brand may be named
        ("Takes AAAA batteries, fits XXXXL.", "en"),  # Latin capitals repeat in sizes and grades
        ("AAAA级景区同款，轻便保暖。", "zh"),
        ("暖暖的鹅绒，穿上暖和暖和。", "zh"),  # Chinese doubles short words
        ("是不是是不是都想要一件？慢慢来慢慢来。", "zh"),  # and longer phrases: only small models are held to it
    ],
)
def test_ordinary_reasons_are_kept(reason, language):
    output = RecommendOutput.model_validate({"items": [{"id": "P2", "reason": reason}], "summary": "s"})
    fixed = reconcile(output, candidates(), k=1, filters=Filters(), language=language)
    assert fixed.items[0].reason == reason and fixed.replaced_reasons == 0


@pytest.mark.parametrize(
    ("reason", "language", "kept"),
    [
        ("素服短服短", "zh", False),  # the packaged model: characters of the title, no word of it
        ("这款非常好看", "zh", False),
        ("Lovely nice choice today.", "en", False),
        ("羽绒服很暖和", "zh", True),  # the request's word
        ("702蓬松度", "zh", True),  # a number from its attributes
        ("羽绒服很暖羽绒服很暖", "zh", False),  # shares a word, but says it twice in a row (跃动跑步飞机跑步飞机)
        ("羽绒服美丽美贵稳", "zh", False),  # one borrowed word, then a character repeated that nothing uses (美)
        ("羽绒服很轻，很暖和，冬天穿正好。", "zh", True),  # function characters (很) and the request's own (冬天)
        ("羽绒服超好穿，冬天非常非常好穿", "zh", True),  # 超, 好, 非常 repeat in ordinary prose
        ("Northpeak quality.", "en", False),  # its brand and nothing else of it (the packaged model: "Alder")
        ("Northpeak", "en", False),
        ("Northpeak down, light.", "en", True),  # its brand and a word of its title
        ("A warm JACKET.", "en", True),  # its title, any case
        ("Ideal for the outerwear season.", "en", True),  # its category
    ],
)
def test_with_grounding_a_reason_must_share_a_term_with_its_product_or_the_request(reason, language, kept):
    output = RecommendOutput.model_validate({"items": [{"id": "P2", "reason": reason}], "summary": "s"})
    fixed = reconcile(output, candidates(), k=1, filters=Filters(), language=language, grounding=["冬天穿的羽绒服"])
    assert (fixed.items[0].reason == reason) is kept and fixed.replaced_reasons == (not kept)
    assert reconcile(output, candidates(), k=1, filters=Filters(), language=language).items[0].reason == reason


def test_a_reason_naming_another_candidates_brand_is_replaced():
    """A fact about the wrong product: the reason for a Northpeak jacket names another candidate's brand."""
    shop = candidates(3)
    other = Candidate(Product(id="Q1", title="Summit parka", category="Clothing/Outerwear/Down", brand="Alpina",
                              price=300.0, currency="USD"), score=1.0)
    output = RecommendOutput.model_validate(
        {"items": [{"id": "P0", "reason": "Alpina quality at a lower price"},
                   {"id": "Q1", "reason": "Alpina's warmest parka"}], "summary": "s"}
    )
    fixed = reconcile(output, [*shop, other], k=2, filters=Filters(), language="en")
    assert [i.id for i in fixed.items] == ["P0", "Q1"]
    assert "Alpina" not in fixed.items[0].reason and "Northpeak" in fixed.items[0].reason
    assert fixed.items[1].reason == "Alpina's warmest parka" and fixed.replaced_reasons == 1


@pytest.mark.parametrize(
    ("brand", "reason", "language"),
    [
        ("On", "Warm for long walks on snowy days.", "en"),  # a brand that is an ordinary word
        ("Alpinaxx", "Alpina-style warmth for less.", "en"),  # not the whole word
        ("毛孩子", "冻干配方，让家里的毛孩子吃得健康。", "zh"),  # Chinese brands are ordinary words too: not checked
    ],
)
def test_brands_that_are_ordinary_words_do_not_replace_a_reason(brand, reason, language):
    other = Candidate(Product(id="Q1", title="Other product", category="Clothing/Outerwear/Down", brand=brand,
                              price=300.0, currency="USD"), score=1.0)
    output = RecommendOutput.model_validate({"items": [{"id": "P0", "reason": reason}], "summary": "s"})
    fixed = reconcile(output, [*candidates(2), other], k=1, filters=Filters(), language=language)
    assert fixed.items[0].reason == reason and fixed.replaced_reasons == 0
