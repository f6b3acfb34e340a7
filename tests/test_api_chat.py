"""POST /v1/chat end to end: real Redis sessions, the demo catalog, the scripted upstream over HTTP.

Every turn of the scripted conversations is checked against the catalog: each item shown honours every
constraint in force, rejected products never come back, references resolve to what was shown.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import redis

from service.chat.answers import _data_numbers
from service.events.keys import UserKeys
from service.output.explain import format_price
from service.retrieve.filters import fold, passes
from service.settings import load_settings
from service.validate.recommend import Filters
from tests.support.openai_upstream import reply, reply_fn, status
from tests.support.picks import pick_first_k, prompt_candidates
from tests.support.redis_db import DOWN_REDIS_URL, REDIS_URL
from tests.support.shopper_events import everything_under


@pytest.fixture
def chat_app(make_app, upstream):
    upstream.default(reply_fn(pick_first_k))
    return make_app(redis_url=REDIS_URL)


class Conversation:
    def __init__(self, app, k=3, **extra):
        self.client = app.test_client()
        self.session_id = None
        self.k = k
        self.extra = extra
        self.turns = []

    def say(self, message, expect=200, **body):
        payload = {"message": message, "k": self.k, **self.extra, **body}
        if self.session_id:
            payload["session_id"] = self.session_id
        response = self.client.post("/v1/chat", json=payload)
        assert response.status_code == expect, response.json
        answer = response.json
        if expect == 200:
            self.session_id = answer["session_id"]
            self.turns.append(answer)
        return answer


def honours(catalog, item_id, understood):
    """Whether the product meets every constraint the answer says is in force."""
    product = catalog.get(item_id)
    assert product is not None and product.in_stock
    filters = Filters(
        price_min=understood.get("price_min"),
        price_max=understood.get("price_max"),
        category=understood.get("category"),
        brand=understood.get("brand"),
        exclude_brands=understood.get("exclude_brands", []),
    )
    if not passes(product, filters):
        return False
    for group, value in understood.get("attributes", {}).items():
        values = product.attributes.get(group) or []
        if fold(value) not in {fold(v) for v in values}:
            return False
    for term in understood.get("exclude_terms", []):
        if fold(term) in fold(product.title):
            return False
    return True


def assert_turn(catalog, answer, rejected=()):
    assert answer["reply"].strip()
    ids = [item["id"] for item in answer["items"]]
    assert len(ids) == len(set(ids))
    for item in answer["items"]:
        product = catalog.get(item["id"])
        assert item["title"] == product.title and item["price"] == product.price
        assert honours(catalog, item["id"], answer["understood"]), (item["id"], answer["understood"])
        assert item["id"] not in rejected


def test_english_conversation_constraints_accumulate_and_lift(chat_app, demo_catalog, upstream):
    talk = Conversation(chat_app)
    first = talk.say("noise cancelling headphones under $200")
    assert first["understood"]["price_max"] == 200 and first["understood"]["category"].startswith("Electronics/Audio")
    assert first["items"] and first["turn"] == 1 and first["provider"] == "openai"
    assert_turn(demo_catalog, first)

    second = talk.say("not Hushwave")
    assert second["understood"]["exclude_brands"] == ["Hushwave"] and second["understood"]["price_max"] == 200
    assert second["items"] and all(demo_catalog.get(i["id"]).brand != "Hushwave" for i in second["items"])
    assert_turn(demo_catalog, second)

    third = talk.say("any brand is fine, actually up to 300")
    assert third["understood"]["price_max"] == 300 and "exclude_brands" not in third["understood"]
    assert_turn(demo_catalog, third)
    assert any(demo_catalog.get(i["id"]).brand == "Hushwave" for i in third["items"])
    assert third["turn"] == 3
    assert upstream.calls == 3  # one provider call per turn


def test_chinese_conversation_checked_against_the_catalog(chat_app, demo_catalog):
    talk = Conversation(chat_app)
    first = talk.say("想买个降噪耳机，预算1000以内")
    assert first["understood"]["price_max"] == 1000
    assert_turn(demo_catalog, first)

    black = talk.say("要黑色的")
    assert black["understood"]["attributes"] == {"colors": "黑色"} and black["understood"]["price_max"] == 1000
    assert black["items"]
    assert_turn(demo_catalog, black)

    gone = black["items"][0]["id"]
    rejected = talk.say("不要第一个")
    assert rejected["referred"] == [gone]
    assert_turn(demo_catalog, rejected, rejected=[gone])

    shown = rejected["items"]
    second = talk.say("第二个有降噪吗")
    assert second["referred"] == [shown[1]["id"]]
    product = demo_catalog.get(shown[1]["id"])
    assert ("有" in second["reply"]) == bool(product.attributes.get("anc"))

    cheaper = talk.say("便宜点的")
    cheapest = min(item["price"] for item in shown)
    if cheaper["items"]:
        assert all(item["price"] < cheapest for item in cheaper["items"])
    else:
        assert "没有比" in cheaper["reply"]
    assert_turn(demo_catalog, cheaper, rejected=[gone])
    for answer in talk.turns[2:]:
        assert gone not in [item["id"] for item in answer["items"]]


def test_the_second_one_resolves_to_the_item_shown_second(chat_app):
    for opener, pointer in (("noise cancelling headphones", "the second one - is it waterproof?"), ("降噪耳机", "第二个防水吗")):
        talk = Conversation(chat_app)
        shown = talk.say(opener)["items"]
        answer = talk.say(pointer)
        assert answer["referred"] == [shown[1]["id"]]
        assert [item["id"] for item in answer["items"]] == [shown[1]["id"]]


def test_that_brand_points_at_the_shown_product_of_that_brand(chat_app, demo_catalog):
    talk = Conversation(chat_app, k=5)
    shown = talk.say("wireless earbuds")["items"]
    sonara = [item["id"] for item in shown if demo_catalog.get(item["id"]).brand == "Sonara"]
    assert sonara, shown
    answer = talk.say("does that Sonara have noise cancelling?")
    assert answer["referred"][0] in sonara
    assert "brand" not in answer["understood"]  # a pointer, not a new brand constraint
    assert answer["reply"].startswith(("No", "The product data"))  # Sonara earbuds: anc false in the data


def test_cheaper_means_below_the_cheapest_shown_or_says_none(chat_app, demo_catalog):
    talk = Conversation(chat_app)
    shown = talk.say("noise cancelling headphones")["items"]
    cheapest = min(item["price"] for item in shown)
    answer = talk.say("cheaper")
    assert answer["items"] and all(item["price"] < cheapest for item in answer["items"])
    assert_turn(demo_catalog, answer)
    # keep asking until nothing is cheaper: then the reply says so, and the constraint is not kept
    for _ in range(6):
        last = answer
        answer = talk.say("cheaper please")
        if not answer["items"]:
            break
        assert all(item["price"] < min(i["price"] for i in last["items"]) for item in answer["items"])
    assert not answer["items"] and "nothing cheaper" in answer["reply"]
    assert answer["understood"]["price_max"] == last["understood"]["price_max"]


def test_comparison_invents_no_number(chat_app, upstream, demo_catalog):
    talk = Conversation(chat_app)
    shown = talk.say("noise cancelling headphones")["items"]

    def invent(body):
        ids = [c["id"] for c in prompt_candidates(body)]
        return {"items": [{"id": i, "reason": "Great."} for i in ids],
                "summary": f"{demo_catalog.get(ids[0]).title} weighs 199 g and lasts 99 hours."}

    upstream.script(reply_fn(invent))
    answer = talk.say("compare 1 and 2")
    compared = [demo_catalog.get(shown[0]["id"]), demo_catalog.get(shown[1]["id"])]
    assert answer["referred"] == [p.id for p in compared]
    numbers = _data_numbers(compared)
    said = [float(n.replace(",", "")) for n in re.findall(r"\d+(?:[.,]\d+)*", answer["reply"])]
    assert said and all(n in numbers for n in said), (answer["reply"], numbers)
    assert "199" not in answer["reply"] and "99 hours" not in answer["reply"]
    assert answer["comparison"] and {row["attribute"] for row in answer["comparison"]} >= {"price"}

    lighter = talk.say("哪个更轻")
    assert lighter["comparison"][0]["attribute"] == "weight"
    said = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", lighter["reply"])]
    assert all(n in _data_numbers([demo_catalog.get(i["id"]) for i in shown]) for n in said)


def test_a_question_for_a_value_is_answered_from_the_products_data(chat_app, upstream, demo_catalog):
    """"What is the fill weight of the first one?" / "第一个的充绒量是多少": the value from the data of the product
    pointed at, named in the shopper's words; a model's invented number never reaches the reply."""

    def invent(body):
        ids = [c["id"] for c in prompt_candidates(body)]
        return {"items": [{"id": i, "reason": "Great."} for i in ids], "summary": "It has 999 g of down."}

    for opener, asked, key, label in [("a warm down jacket for winter", "what is the fill weight of the first one?",
                                       "fill_weight_g", "fill weight"),
                                      ("我想买一款适合冬天穿的羽绒服", "第一个的充绒量是多少", "fill_weight_g", "充绒量")]:
        talk = Conversation(chat_app)
        first = demo_catalog.get(talk.say(opener)["items"][0]["id"])
        upstream.script(reply_fn(invent))
        answer = talk.say(asked)
        assert answer["referred"] == [first.id] and [i["id"] for i in answer["items"]] == [first.id]
        assert answer["reply"].startswith(first.title) or answer["reply"].startswith(f"The {label} of {first.title}")
        assert f"{first.attributes[key]:g} g" in answer["reply"] and label in answer["reply"] and "999" not in answer["reply"]

    talk = Conversation(chat_app)
    shown = talk.say("noise cancelling headphones")["items"]
    unknown = talk.say("第二个的蓬松度是多少")  # headphones have no fill power: said so, nothing invented
    assert demo_catalog.get(shown[1]["id"]).title in unknown["reply"] and "没有写明蓬松度" in unknown["reply"]
    both = talk.say("这两个多少钱")  # each product pointed at
    assert sorted(i["id"] for i in both["items"]) == sorted(i["id"] for i in shown[:2])
    for item in shown[:2]:
        product = demo_catalog.get(item["id"])
        assert f"{product.title}的价格是 {format_price(product.price, product.currency)}" in both["reply"]
    about = talk.say("第一个怎么样")  # nothing in particular: the product pointed at, from its facts
    first = demo_catalog.get(shown[0]["id"])
    assert about["reply"].startswith(f"{first.title}：") and [i["id"] for i in about["items"]] == [first.id]
    assert format_price(first.price, first.currency) in about["reply"]
    brand = talk.say("what brand is the first one?")
    assert brand["reply"] == f"The brand of {demo_catalog.get(shown[0]['id']).title} is {demo_catalog.get(shown[0]['id']).brand}."


def test_a_refinement_or_rejection_pointing_at_a_product_is_not_a_value_question(chat_app, demo_catalog):
    talk = Conversation(chat_app)
    shown = talk.say("noise cancelling headphones")["items"]
    cheaper = talk.say("比第一个便宜的有哪些")
    assert cheaper["understood"]["price_max"] < demo_catalog.get(shown[0]["id"]).price
    rejected = talk.say("不要第二个，还有哪些")  # the second of the cheaper ones just shown
    assert cheaper["items"][1]["id"] not in [i["id"] for i in rejected["items"]] and rejected["items"]


def test_a_grounded_model_reply_is_kept(chat_app, upstream, demo_catalog):
    talk = Conversation(chat_app)
    shown = talk.say("noise cancelling headphones")["items"]
    a, b = demo_catalog.get(shown[0]["id"]), demo_catalog.get(shown[1]["id"])
    summary = f"{a.title} costs {a.price:g} and {b.title} costs {b.price:g}."
    upstream.script(reply({"items": [{"id": a.id, "reason": "ok"}, {"id": b.id, "reason": "ok"}], "summary": summary}))
    assert talk.say("compare the first and the second")["reply"] == summary


def test_vague_opener_gets_exactly_one_question(chat_app, upstream):
    for opener, answer_text in (("a gift for my dad", "something nice"), ("推荐点好东西", "随便")):
        talk = Conversation(chat_app)
        asked = talk.say(opener)
        assert asked["question"] and asked["question"]["options"] and not asked["items"]
        assert asked["reply"] == asked["question"]["text"]
        follow = talk.say(answer_text)  # still vague: never a second question in a row
        assert follow["question"] is None and follow["items"]
    assert Conversation(chat_app).say("just show me something")["question"] is None
    assert Conversation(chat_app).say("推荐点好东西", filters={"price_max": 500})["question"] is None


def test_question_options_are_understood(chat_app, demo_catalog):
    options = Conversation(chat_app).say("推荐点好东西")["question"]["options"]
    budgets = [o for o in options if "¥" in o]
    categories = [o for o in options if o not in budgets]
    assert len(categories) >= 2 and len(budgets) == 3
    for option in options:
        talk = Conversation(chat_app)
        talk.say("推荐点好东西")
        answer = talk.say(option)
        assert answer["question"] is None and answer["items"], option
        understood = answer["understood"]
        assert understood.get("category") if option in categories else understood.get("price_max") or understood.get("price_min")
        assert_turn(demo_catalog, answer)


def test_sessions_are_isolated(chat_app, demo_catalog):
    one, two = Conversation(chat_app), Conversation(chat_app)
    one.say("noise cancelling headphones under $150")
    two.say("羽绒服")
    answer = two.say("便宜点的")
    assert "Electronics" not in json.dumps(answer["understood"]) and answer["understood"]["category"].startswith("Clothing")
    assert one.say("any brand")["understood"]["price_max"] == 150
    assert one.session_id != two.session_id


def test_sessions_expire(make_app, upstream):
    upstream.default(reply_fn(pick_first_k))
    app = make_app(redis_url=REDIS_URL, session_ttl_s=1)
    talk = Conversation(app)
    talk.say("headphones")
    assert app.test_client().get(f"/v1/chat/{talk.session_id}").status_code == 200
    time.sleep(1.3)
    gone = app.test_client().get(f"/v1/chat/{talk.session_id}")
    assert gone.status_code == 404 and gone.json["error"]["code"] == "session_not_found"
    assert talk.say("cheaper", expect=404)["error"]["field"] == "session_id"


def test_sessions_live_in_redis_masked(chat_app, redis_prefix):
    talk = Conversation(chat_app)
    talk.say("headphones for me, write to jane.doe@example.com", user={"id": "shopper-42"})
    client = redis.Redis.from_url(REDIS_URL)
    blob = client.get(f"{redis_prefix}:chat:{talk.session_id}")
    assert blob is not None and 0 < client.pttl(f"{redis_prefix}:chat:{talk.session_id}") <= 1800 * 1000
    assert b"jane.doe@example.com" not in blob and b"shopper-42" not in blob
    client.close()


def test_transcript_and_forget(chat_app):
    talk = Conversation(chat_app)
    first = talk.say("noise cancelling headphones")
    talk.say("not the first one")
    client = chat_app.test_client()
    state = client.get(f"/v1/chat/{talk.session_id}").json
    assert state["turn"] == 2 and [t["role"] for t in state["transcript"]] == ["shopper", "assistant"] * 2
    assert state["rejected"] == [first["items"][0]["id"]]
    assert state["understood"]["category"].startswith("Electronics/Audio")
    assert client.delete(f"/v1/chat/{talk.session_id}").status_code == 204
    assert client.get(f"/v1/chat/{talk.session_id}").status_code == 404
    assert client.delete(f"/v1/chat/{talk.session_id}").status_code == 404
    assert client.get("/v1/chat/not-a-valid-id").status_code == 404


def test_bad_requests_are_4xx_naming_the_field(chat_app):
    client = chat_app.test_client()
    for body, field in (({"message": "  "}, "message"), ({"message": "x", "k": 0}, "k"),
                        ({"message": "x", "session_id": "bad id!"}, "session_id"), ({}, "message")):
        response = client.post("/v1/chat", json=body)
        assert response.status_code == 400 and response.json["error"]["field"] == field, response.json
    assert client.post("/v1/chat", json={"message": "x", "session_id": "A" * 24}).status_code == 404


def test_redis_down_answers_statelessly_with_a_flag(make_app, upstream, demo_catalog):
    upstream.default(reply_fn(pick_first_k))
    app = make_app(redis_url=DOWN_REDIS_URL)
    talk = Conversation(app)
    answer = talk.say("noise cancelling headphones under $200")
    assert answer["stateless"] is True and answer["items"] and not answer["degraded"]
    assert_turn(demo_catalog, answer)
    again = talk.say("cheaper")  # its session id is known to nobody, and the turn is still answered
    assert again["stateless"] is True


def test_degraded_turn_honours_every_constraint(make_app, upstream, demo_catalog):
    upstream.default(status(500))
    app = make_app(redis_url=REDIS_URL, retries=0)
    talk = Conversation(app)
    first = talk.say("降噪耳机 1000以内")
    assert first["degraded"] and first["provider"] is None and first["items"]
    assert_turn(demo_catalog, first)
    second = talk.say("要黑色的，不要第一个")
    assert second["degraded"] and second["items"]
    assert_turn(demo_catalog, second, rejected=[first["items"][0]["id"]])


def test_explicit_filters_win(chat_app, demo_catalog):
    talk = Conversation(chat_app)
    answer = talk.say("headphones under $100", filters={"price_max": 300, "brand": "Hushwave"})
    assert all(demo_catalog.get(i["id"]).brand == "Hushwave" and i["price"] <= 300 for i in answer["items"])


def test_a_turn_with_a_user_goes_through_personalization(chat_app):
    """issue 12 + 15: a product the shopper dismissed (an event) is not shown in their conversation."""
    from tests.support.shopper_events import event, send

    user = {"id": "u-chat-dismiss"}
    talk = Conversation(chat_app, user=user)
    top = talk.say("noise cancelling headphones")["items"][0]["id"]
    send(chat_app.test_client(), [event("dismiss", user["id"], top)])
    again = Conversation(chat_app, user=user).say("noise cancelling headphones")
    assert again["items"] and top not in [item["id"] for item in again["items"]]
    anonymous = Conversation(chat_app).say("noise cancelling headphones")
    assert top in [item["id"] for item in anonymous["items"]]


@pytest.mark.parametrize("redis_url", [REDIS_URL, None], ids=["redis", "in-process"])
def test_forgetting_a_shopper_deletes_their_conversations(make_app, upstream, redis_prefix, redis_url):
    """DELETE /v1/users/{id} also deletes the shopper's chat sessions (their own words); others' stay."""
    upstream.default(reply_fn(pick_first_k))
    app = make_app(redis_url=redis_url)
    mine = [Conversation(app, user={"id": "u-chat-forget"}) for _ in range(2)]
    for talk in mine:
        talk.say("羽绒服 under 500")
    other = Conversation(app, user={"id": "u-chat-stays"})
    other.say("headphones")
    anonymous = Conversation(app)
    anonymous.say("headphones")
    client = app.test_client()
    if redis_url:  # what the checks below look for is there before the deletion
        assert mine[0].session_id.encode() in b" ".join(everything_under(redis_prefix))
    answer = client.delete("/v1/users/u-chat-forget").json
    assert answer["conversations"] == 2 and answer["deleted"] is True
    for talk in mine:
        assert client.get(f"/v1/chat/{talk.session_id}").status_code == 404
    assert client.get(f"/v1/chat/{other.session_id}").status_code == 200
    assert client.get(f"/v1/chat/{anonymous.session_id}").status_code == 200
    if redis_url:
        left = b" ".join(everything_under(redis_prefix))
        assert b"chat-user:" + UserKeys().user("u-chat-forget").encode() not in left
        assert mine[0].session_id.encode() not in left
    assert client.delete("/v1/users/u-chat-forget").json["conversations"] == 0


@pytest.mark.parametrize("redis_url", [REDIS_URL, None], ids=["redis", "in-process"])
@pytest.mark.parametrize("second_turn", [False, True], ids=["new-conversation", "next-turn"])
def test_a_turn_in_flight_while_its_shopper_is_forgotten_does_not_bring_them_back(
    make_app, upstream, redis_prefix, redis_url, second_turn
):
    """The deletion lands while the model is still answering (the upstream deletes the shopper before it
    replies): the turn is answered, not saved (``stateless``), and nothing of the shopper is left behind."""
    app = make_app(redis_url=redis_url)
    talk = Conversation(app, user={"id": "u-chat-race"})
    if second_turn:
        upstream.default(reply_fn(pick_first_k))
        talk.say("羽绒服 under 500")
    deleted = []

    def forget_then_answer(body):
        deleted.append(app.test_client().delete("/v1/users/u-chat-race").json)
        return pick_first_k(body)

    upstream.default(reply_fn(forget_then_answer))
    answer = talk.say("noise cancelling headphones")
    assert deleted and deleted[0]["conversations"] == 1  # stored as it opened, so the deletion found it
    assert answer["items"] and answer["stateless"] is True
    assert app.test_client().get(f"/v1/chat/{answer['session_id']}").status_code == 404
    if redis_url:
        left = b" ".join(everything_under(redis_prefix))
        assert answer["session_id"].encode() not in left
        assert b"chat-user:" not in left
    upstream.default(reply_fn(pick_first_k))  # after the deletion the shopper can start over
    again = Conversation(app, user={"id": "u-chat-race"})
    assert again.say("noise cancelling headphones")["stateless"] is False
    assert again.say("cheaper ones")["stateless"] is False


def test_a_turn_in_flight_while_its_conversation_is_deleted_does_not_save_it(make_app, upstream, redis_prefix):
    app = make_app(redis_url=REDIS_URL)
    talk = Conversation(app)
    upstream.default(reply_fn(pick_first_k))
    talk.say("headphones")

    def delete_then_answer(body):
        assert app.test_client().delete(f"/v1/chat/{talk.session_id}").status_code == 204
        return pick_first_k(body)

    upstream.default(reply_fn(delete_then_answer))
    assert talk.say("cheaper ones")["stateless"] is True
    assert app.test_client().get(f"/v1/chat/{talk.session_id}").status_code == 404


def test_a_small_models_reason_that_names_nothing_of_its_pick_is_replaced(make_app, upstream, demo_catalog):
    """A provider set to the compact prompt (a small model) is held to its products' words or the shopper's."""

    def small_model(body):
        ids = [c["id"] for c in prompt_candidates(body)]
        return {"items": [{"id": ids[0], "reason": "Lovely nice choice today."},
                          {"id": ids[1], "reason": "Warm for winter walks."}]}

    upstream.default(reply_fn(small_model))
    app = make_app(redis_url=REDIS_URL, providers="tiny",
                   extra_providers={"tiny": {"base_url": upstream.base_url, "model": "tiny", "prompt_style": "compact"}})
    answer = Conversation(app, k=2).say("a warm down jacket for winter")
    first, second = answer["items"]
    assert answer["provider"] == "tiny" and first["source"] == second["source"] == "llm"
    assert first["reason"] != "Lovely nice choice today." and demo_catalog.get(first["id"]).brand in first["reason"]
    assert second["reason"] == "Warm for winter walks."


def test_a_small_model_gets_each_turn_in_the_compact_form_with_the_conversations_constraints(
    make_app, upstream, demo_catalog
):
    """A conversation turn asked of a compact provider is the recommendation's compact form: the message as the
    request, what earlier turns said carried as filters (no transcript), the top candidates only, and a grammar
    that admits only their ids."""
    upstream.default(reply_fn(pick_first_k))
    app = make_app(redis_url=REDIS_URL, providers="tiny",
                   extra_providers={"tiny": {"base_url": upstream.base_url, "model": "tiny", "prompt_style": "compact"}})
    talk = Conversation(app, k=3)
    first = talk.say("noise cancelling headphones under $200")
    second = talk.say("not Hushwave")
    assert first["provider"] == second["provider"] == "tiny"
    assert_turn(demo_catalog, second)
    assert second["items"] and all(demo_catalog.get(i["id"]).brand != "Hushwave" for i in second["items"])
    body = upstream.chat_requests[-1].body
    system, user = (m["content"] for m in body["messages"])
    assert "Pick the candidate products" in system  # prompts/recommend_compact, not prompts/chat
    request = re.search(r"<shopper_request>\n(.*?)\n</shopper_request>", user, re.S).group(1)
    assert "<conversation>" not in user and json.loads(request) == "not Hushwave"  # this turn's words only
    filters = json.loads(re.search(r"<filters>\n(.*?)\n</filters>", user, re.S).group(1))
    assert filters["price_max"] == 200 and filters["exclude_brands"] == ["Hushwave"]
    assert filters["looking_for"] == ["noise cancelling headphones"]  # the earlier turn's words, as constraints
    chat = app.extensions["shopguide"].chat
    assert second["prompt_version"] == chat.compact_version != chat.prompt_version  # the prompt it was sent
    candidates = [c["id"] for c in prompt_candidates(body)]
    assert 0 < len(candidates) <= load_settings().local_candidates
    assert all(demo_catalog.get(c).brand != "Hushwave" for c in candidates)
    grammar = body["response_format"]["json_schema"]["schema"]
    assert grammar["$defs"]["Pick"]["properties"]["id"]["enum"] == candidates
    assert body["temperature"] == load_settings().local_temperature  # the local model's decoding
