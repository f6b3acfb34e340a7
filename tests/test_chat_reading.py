"""What a conversational message does, read in English and Chinese (service/chat/reading.py)."""

from __future__ import annotations

import pytest

from service.chat.reading import read, vague
from service.retrieve.filters import fold


def r(text, shown=3):
    return read(fold(text), shown)


@pytest.mark.parametrize(
    "text,positions",
    [("the second one", [1]), ("第二个", [1]), ("第2款", [1]), ("#3", [2]), ("the last one", [2]), ("最后一个", [2]),
     ("compare 1 and 3", [0, 2]), ("比较一下第一个和第三个", [0, 2]), ("the first two", [0, 1]), ("前两个", [0, 1])],
)
def test_ordinals(text, positions):
    assert r(text).positions == positions


def test_a_position_not_shown_is_missing():
    reading = r("the third one", shown=2)
    assert reading.positions == [] and reading.missing == [2]


@pytest.mark.parametrize(
    "text,lift",
    [("any brand is fine", "brand"), ("品牌无所谓", "brand"), ("其他品牌也行", "brand"), ("预算可以高一点", "price_max"),
     ("budget can be higher", "price_max"), ("any colour", "attributes"), ("颜色无所谓", "attributes")],
)
def test_lifts(text, lift):
    reading = r(text)
    assert lift in reading.lifts and not reading.text.strip()


@pytest.mark.parametrize("text", ["not that one", "不要这个", "不要第二个", "这个不行", "I don't want the first one"])
def test_rejections(text):
    assert r(text).reject


def test_no_more_excludes_words():
    assert r("no more jackets").no_more == ["jackets"]
    assert r("不要再推荐外套了").no_more == ["外套"]


@pytest.mark.parametrize(
    "text,relative",
    [("cheaper", ("price", "lt")), ("便宜点的", ("price", "lt")), ("更便宜的", ("price", "lt")),
     ("lighter", ("weight", "lt")), ("轻一点的", ("weight", "lt")), ("bigger screen", ("screen", "gt")),
     ("屏幕大一点", ("screen", "gt")), ("续航更长的", ("battery_life", "gt")), ("更保暖的", ("warmth", "lt"))],
)
def test_relative_refinements(text, relative):
    assert r(text).relative == [relative]


def test_superlative_among_those_shown_is_a_pointer_not_a_refinement():
    reading = r("the cheaper of the two")
    assert reading.superlative == ("price", "lt") and not reading.relative
    assert r("便宜的那个").superlative == ("price", "lt")


@pytest.mark.parametrize("text,dimension", [("哪个更轻", "weight"), ("which one is lighter?", "weight"),
                                            ("compare 1 and 2", None), ("有什么区别", None), ("which is cheaper", "price")])
def test_comparisons(text, dimension):
    reading = r(text)
    assert reading.compare and reading.compare_dimension == dimension


@pytest.mark.parametrize(
    "text,feature",
    [("does the second one have noise cancelling?", "noise cancelling"), ("第二个有降噪吗", "降噪"),
     ("is the first one waterproof?", "waterproof"), ("第一个防水吗", "防水")],
)
def test_product_questions(text, feature):
    reading = r(text)
    assert reading.feature == feature and reading.positions


@pytest.mark.parametrize(
    "text,feature,position",
    [("what is the fill weight of the first one?", "fill weight", 0), ("第一个的充绒量是多少", "充绒量", 0),
     ("第二个多重", "多重", 1), ("how heavy is the second one?", "how heavy is", 1), ("第一个有什么颜色", "颜色", 0),
     ("what colors does the third one come in?", "colors", 2), ("第三个多少钱", "钱", 2), ("第一个有几种颜色", "颜色", 0),
     ("第一个怎么样", "怎么样", 0), ("tell me about the second one", "tell me about", 1),
     ("how is the battery life of the first one?", "battery life", 0)],
)
def test_questions_for_a_value_of_a_shown_product(text, feature, position):
    reading = r(text)
    assert reading.feature == feature and reading.value and reading.positions == [position]
    assert not reading.text.strip()  # nothing in it is a new constraint


@pytest.mark.parametrize(
    "text,positions",
    [("the first one is too expensive, what about the second one?", [1]), ("第一个太贵了，第二个怎么样", [1]),
     ("第一个和第二个怎么样", [0, 1]), ("tell me about the first and the second", [0, 1])],
)
def test_what_about_describes_the_products_of_its_own_clause(text, positions):
    reading = r(text)
    assert reading.about and reading.positions == positions


def test_a_question_for_a_value_without_a_noun_is_not_a_description():
    assert r("how big is the second one?").value and not r("how big is the second one?").about


def test_last_is_a_reference_only_as_the_last_or_last_one():
    assert r("the last one").positions == [2] and r("compare the first and the last").positions == [0, 2]
    assert r("how long does the battery of the first one last?").positions == [0]
    assert r("firstly, something warm").positions == []
    assert r("compare the last two").positions == [1, 2] and r("后两个有什么区别").positions == [1, 2]
    assert r("first of all, something cheaper").positions == [] and r("at last something warm").positions == []


@pytest.mark.parametrize("text", ["what is the best down jacket", "how much is a good blender", "第一个防水吗",
                                  "比第一个便宜的有哪些", "what's cheaper than the first one?", "不要第二个，还有哪些",
                                  "i don't like the first one, what else is there?", "what else is like the second one?",
                                  "第一个不错，还有什么类似的"])
def test_not_a_value_question(text):
    assert r(text).value is None


@pytest.mark.parametrize("text", ["a gift for my dad", "推荐点好东西", "something nice please", "给我妈买点东西"])
def test_vague(text):
    assert vague(fold(text))


@pytest.mark.parametrize("text", ["a gift for my dad who likes hiking", "降噪耳机", "running shoes", "羽绒服"])
def test_not_vague(text):
    assert not vague(fold(text))


def test_just_show():
    assert r("just show me something").just_show and r("直接推荐吧").just_show
