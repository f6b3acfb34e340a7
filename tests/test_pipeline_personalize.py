"""Personalized /v1/recommend end to end: real Redis, the real HTTP scripted upstream, events sent through the API."""

from __future__ import annotations

import json
import time

import pytest
import redis

from service.catalog.load import Catalog
from service.events.keys import UserKeys
from service.personalize.contract import EventType, Interaction
from service.retrieve.filters import passes
from service.validate.recommend import Filters
from tests.support.openai_upstream import reply_fn, status
from tests.support.picks import pick_first_k, prompt_candidates
from tests.support.redis_db import DOWN_REDIS_URL, REDIS_URL
from tests.support.shopper_events import event, everything_under, learn, send

JACKETS = {"query": "羽绒服", "k": 3}


@pytest.fixture
def picks(upstream):
    upstream.default(reply_fn(pick_first_k))
    return upstream


@pytest.fixture
def app(make_app, picks):
    return make_app(redis_url=REDIS_URL)


def ask(client, body):
    response = client.post("/v1/recommend", json=body)
    assert response.status_code == 200, response.json
    return response.json


def ids(answer):
    return [item["id"] for item in answer["items"]]


def as_user(body, user_id, **user):
    return {**body, "user": {"id": user_id, **user}}


def assert_real(answer, catalog: Catalog, filters: Filters | None = None):
    for item in answer["items"]:
        product = catalog.by_id[item["id"]]
        assert passes(product, filters or Filters()), item


# -- dismissals and purchases --------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["model", "degraded"])
def test_a_dismissed_product_never_comes_back(app, picks, demo_catalog, path):
    client = app.test_client()
    top = ids(ask(client, as_user(JACKETS, "u-dismiss")))[0]
    send(client, [event("dismiss", "u-dismiss", top)])
    if path == "degraded":
        picks.default(status(500))
    for body in (as_user(JACKETS, "u-dismiss"), as_user({**JACKETS, "k": 20}, "u-dismiss"),
                 {"k": 20, "user": {"id": "u-dismiss"}}):
        answer = ask(client, body)
        assert top not in ids(answer), body
        assert answer["degraded"] is (path == "degraded")
        assert_real(answer, demo_catalog)
    assert top in ids(ask(client, as_user(JACKETS, "someone-else")))


def test_a_model_naming_a_dismissed_product_does_not_get_it_through(app, picks):
    client = app.test_client()
    top = ids(ask(client, as_user(JACKETS, "u-stubborn")))[0]
    send(client, [event("dismiss", "u-stubborn", top)])
    picks.default(reply_fn(lambda body: {"items": [{"id": top, "reason": "还是它"}], "summary": "好"}))
    answer = ask(client, as_user(JACKETS, "u-stubborn"))
    assert top not in ids(answer) and len(answer["items"]) == 3


def test_a_purchase_changes_the_next_answer(app, demo_catalog):
    client = app.test_client()
    before = ask(client, {"k": 5, "user": {"id": "u-buyer"}})  # cold: popular products
    bought = "SG-OUT-0003"
    send(client, [event("purchase", "u-buyer", bought)])
    after = ask(client, {"k": 5, "user": {"id": "u-buyer"}})
    assert ids(after) != ids(before) and bought not in ids(after)
    shaped = [item for item in after["items"] if item["personalized"]]
    assert shaped and all(bought in item["because"] for item in shaped)
    assert any(demo_catalog.by_id[i].category == demo_catalog.by_id[bought].category for i in ids(after))
    with_query = ask(client, as_user(JACKETS, "u-buyer"))
    assert bought not in ids(with_query)


def test_purchased_products_come_back_when_the_request_asks(app, picks):
    client = app.test_client()
    top = ids(ask(client, as_user(JACKETS, "u-rebuy")))[0]
    send(client, [event("purchase", "u-rebuy", top)])
    assert top not in ids(ask(client, as_user(JACKETS, "u-rebuy")))
    picks.reset()
    picks.default(reply_fn(pick_first_k))
    ask(client, as_user({**JACKETS, "k": 5}, "u-rebuy", include_purchased=True))
    assert top in [c["id"] for c in prompt_candidates(picks.chat_requests[-1].body)]


# -- affinity and explanations ---------------------------------------------------------------------------
def test_history_reranks_candidates_and_items_say_because(app, picks, demo_catalog):
    client = app.test_client()
    plain = ids(ask(client, {**JACKETS, "k": 5}))
    fan = "u-fan"
    brand = "鹅岭"
    liked = [p.id for p in demo_catalog.products if p.brand == brand]
    send(client, [event("add_to_cart", fan, pid) for pid in liked])
    answer = ask(client, as_user({**JACKETS, "k": 5}, fan))
    mine = ids(answer)
    assert mine != plain
    first = next(item for item in answer["items"] if item["personalized"])
    assert set(first["because"]) <= set(liked) and first["because"]
    assert all(item["because"] == [] for item in answer["items"] if not item["personalized"])


def test_the_prompt_gets_history_titles_never_ids(app, picks, demo_catalog):
    client = app.test_client()
    seen = "SG-OUT-0011"
    send(client, [event("purchase", "shopper-secret-9", seen)])
    ask(client, as_user(JACKETS, "shopper-secret-9"))
    body = picks.chat_requests[-1].body
    text = " ".join(m["content"] for m in body["messages"])
    assert demo_catalog.by_id[seen].title in text
    assert "shopper-secret-9" not in text and UserKeys().user("shopper-secret-9") not in text
    user_message = next(m["content"] for m in body["messages"] if m["role"] == "user")
    profile = user_message.split("<shopper_profile>")[1].split("</shopper_profile>")[0]
    assert seen not in profile and "bought" in profile


def test_candidates_point_at_history_entries_by_number(app, picks, demo_catalog):
    """A candidate's like_from_history numbers entries of the prompt's history: each title is sent once."""
    client = app.test_client()
    liked = [p.id for p in demo_catalog.products if p.brand == "鹅岭"]
    send(client, [event("add_to_cart", "u-numbers", pid) for pid in liked])
    ask(client, as_user({**JACKETS, "k": 5}, "u-numbers"))
    user_message = next(m["content"] for m in picks.chat_requests[-1].body["messages"] if m["role"] == "user")
    profile = json.loads(user_message.split("<shopper_profile>")[1].split("</shopper_profile>")[0])
    numbers = {entry["n"]: entry["title"] for entry in profile["history"]}
    assert sorted(numbers) == list(range(1, len(numbers) + 1))
    block = user_message.split("<candidates>")[1].split("</candidates>")[0]
    candidates = [json.loads(line) for line in block.splitlines() if line.strip()]
    cited = [n for c in candidates for n in c.get("like_from_history", [])]
    assert cited and all(isinstance(n, int) and n in numbers for n in cited)
    for title in numbers.values():
        assert user_message.count(title) <= 1 + sum(c["title"] == title for c in candidates)


# -- the cache ---------------------------------------------------------------------------------------------
def test_no_answer_crosses_between_shoppers_through_the_cache(app, picks):
    client = app.test_client()
    send(client, [event("purchase", "u-one", "SG-OUT-0001"), event("purchase", "u-two", "SG-OUT-0003")])
    one = ask(client, as_user(JACKETS, "u-one"))
    two = ask(client, as_user(JACKETS, "u-two"))
    assert one["cached"] is False and two["cached"] is False
    assert "SG-OUT-0001" not in ids(one) and "SG-OUT-0003" not in ids(two)
    assert ask(client, as_user(JACKETS, "u-one"))["cached"] is True  # the same shopper, unchanged: shared
    send(client, [event("view", "u-one", "SG-OUT-0005")])
    assert ask(client, as_user(JACKETS, "u-one"))["cached"] is False  # their history moved on


def test_requests_without_personal_signals_keep_sharing(app, picks):
    client = app.test_client()
    ask(client, JACKETS)
    assert ask(client, JACKETS)["cached"] is True
    assert ask(client, as_user(JACKETS, "u-brand-new"))["cached"] is True  # no history: nothing personal
    assert picks.calls == 1


# -- cold paths ----------------------------------------------------------------------------------------------
def test_a_cold_shopper_gets_popular_products(app, demo_catalog):
    client = app.test_client()
    hit = [p.id for p in demo_catalog.products if p.in_stock][-1]  # last in catalog order: only popularity brings it
    send(client, [event("purchase", f"crowd-{i}", hit) for i in range(5)])
    learn(app)
    answer = ask(client, {"k": 5, "user": {"id": "u-cold"}})
    assert hit in ids(answer) and len(answer["items"]) == 5
    assert all(item["personalized"] is False and item["because"] == [] for item in answer["items"])
    assert_real(answer, demo_catalog)


def test_a_product_nobody_touched_is_reachable_through_its_text(app, demo_catalog):
    client = app.test_client()
    send(client, [event("purchase", "u-content", "SG-OUT-0001")])
    answer = ask(client, {"k": 5, "user": {"id": "u-content"}})
    untouched = [item for item in answer["items"] if item["personalized"]]
    assert untouched, answer["items"]
    for item in untouched:
        assert item["because"] == ["SG-OUT-0001"]


def test_for_you_honours_every_filter(app, demo_catalog):
    client = app.test_client()
    send(client, [event("purchase", "u-filtered", "SG-OUT-0001")])
    filters = {"price_max": 1000, "exclude_brands": ["雪域"], "exclude_terms": ["儿童"]}
    answer = ask(client, {"k": 10, "user": {"id": "u-filtered"}, "filters": filters})
    assert answer["items"]
    assert_real(answer, demo_catalog, Filters(**{k: v for k, v in filters.items() if k != "exclude_terms"}))
    assert all("儿童" not in item["title"] for item in answer["items"])


def test_a_new_shop_still_answers_a_cold_shopper(app, demo_catalog):
    """Nothing learned and no history: the for-you answer falls back to catalog products, all real and in stock."""
    answer = ask(app.test_client(), {"k": 4, "user": {"id": "u-first-ever"}, "filters": {"price_max": 500}})
    assert len(answer["items"]) == 4 and not any(item["personalized"] for item in answer["items"])
    assert_real(answer, demo_catalog, Filters(price_max=500))


def test_for_you_needs_a_user(app):
    response = app.test_client().post("/v1/recommend", json={"k": 3})
    assert response.status_code == 400 and response.json["error"]["field"] == "query"


def test_recent_product_ids_personalize_without_a_store_entry(app):
    answer = ask(app.test_client(), {"k": 5, "user": {"recent_product_ids": ["SG-OUT-0001"]}})
    assert any(item["personalized"] for item in answer["items"])


# -- impressions, deletion, Redis down ------------------------------------------------------------------------
def test_impressions_join_clicks(app):
    client = app.test_client()
    shown = ask(client, as_user(JACKETS, "u-clicker"))
    rid, items = shown["request_id"], ids(shown)
    send(client, [
        event("click", "u-clicker", items[1], recommendation_id=rid, position=1),
        event("click", "u-clicker", items[0], recommendation_id=rid, position=2),
        event("click", "u-clicker", items[2], recommendation_id="an-answer-not-kept", position=0),
    ])
    history = client.get("/v1/users/u-clicker/history").json
    assert history["impressions"][0] == {"request_id": rid, "items": items, "timestamp": history["impressions"][0]["timestamp"]}
    joined = {e["product_id"]: e["shown"] for e in history["events"]}
    assert joined == {items[1]: True, items[0]: False, items[2]: None}


def test_anonymous_answers_log_no_impression(app, redis_prefix):
    ask(app.test_client(), JACKETS)
    assert not [k for k in everything_under(redis_prefix) if b":imp" in k]


def test_deleting_a_shopper_leaves_nothing(app, redis_prefix):
    client = app.test_client()
    gone, kept = "u-forget-me", "u-stays"
    key = UserKeys().user(gone)
    send(client, [event("view", gone, "SG-OUT-0001", session_id="sess-forget"), event("dismiss", gone, "SG-OUT-0002"),
                  event("purchase", gone, "SG-OUT-0003", event_id="order-1"), event("view", kept, "SG-OUT-0001")])
    ask(client, as_user(JACKETS, gone))
    ask(client, {"k": 3, "user": {"id": gone}})
    before = everything_under(redis_prefix)
    assert any(key.encode() in k for k in before)
    answer = client.delete(f"/v1/users/{gone}").json
    assert answer["deleted"] is True and answer["keys"] > 0
    after = everything_under(redis_prefix)
    assert not [k for k in after if key.encode() in k]
    personal = [k for k in before if b":ans:" in k and k not in after]
    assert personal and not [k for k in after if k.endswith(b":flight-result") and k.split(b":flight")[0] in personal]
    assert key not in repr(after) and gone not in repr(after) and UserKeys().session("sess-forget") not in repr(after)
    stream = next(v for k, v in after.items() if k.endswith(b":ev:log"))
    assert len(stream) == 1  # the other shopper's event stays
    history = client.get(f"/v1/users/{gone}/history").json
    assert history == {"events": [], "dismissed": [], "purchased": [], "impressions": [], "stream_events": 0}
    assert client.get(f"/v1/users/{kept}/history").json["stream_events"] == 1
    assert client.delete(f"/v1/users/{gone}").json["deleted"] is False


def test_personalized_answers_are_dropped_with_the_shopper(make_app, picks):
    app = make_app(redis_url=None)  # the in-process cache and store
    client = app.test_client()
    send(client, [event("purchase", "u-mem", "SG-OUT-0001")])
    ask(client, as_user(JACKETS, "u-mem"))
    assert ask(client, as_user(JACKETS, "u-mem"))["cached"] is True
    client.delete("/v1/users/u-mem")
    send(client, [event("purchase", "u-mem", "SG-OUT-0001")])  # the same history again: computed afresh
    assert ask(client, as_user(JACKETS, "u-mem"))["cached"] is False


def test_redis_down_answers_without_personalization(make_app, picks, demo_catalog):
    app = make_app(redis_url=DOWN_REDIS_URL)
    client = app.test_client()
    answer = ask(client, as_user(JACKETS, "u-offline"))
    assert answer["items"] and all(item["personalized"] is False for item in answer["items"])
    for_you = ask(client, {"k": 3, "user": {"id": "u-offline"}})
    assert len(for_you["items"]) == 3
    assert_real(for_you, demo_catalog)
    ready = client.get("/readyz").json
    assert ready["personalization"]["active"] is False and ready["personalization"]["store"]["ok"] is False
    up = make_app(redis_url=REDIS_URL).test_client().get("/readyz").json
    assert up["personalization"]["active"] is True


def test_the_stream_is_capped_by_length(make_app, picks, redis_prefix):
    app = make_app(redis_url=REDIS_URL, events_stream_max_len=1000)
    client = app.test_client()
    for batch in range(4):
        send(client, [event("view", f"u-cap-{i}", "SG-OUT-0001") for i in range(1000)])
    length = redis.Redis.from_url(REDIS_URL).xlen(f"{redis_prefix}:ev:log")
    assert 1000 <= length < 2500  # MAXLEN ~ trims whole macro nodes


def test_the_store_feeds_training(app):
    client = app.test_client()
    send(client, [event("view", "u-train", "SG-OUT-0001", timestamp=1_796_026_500_000),
                  event("purchase", "u-train", "SG-OUT-0002", timestamp=1_796_026_400_000)])
    store = app.extensions["shopguide"].events
    sequences = {s.user_key: s for s in store.sequences()}
    mine = sequences[UserKeys().user("u-train")]
    assert [i.product_id for i in mine.interactions] == ["SG-OUT-0002", "SG-OUT-0001"]  # oldest first


def test_every_worker_learns_every_event(make_app, picks):
    """Events taken by one worker reach the other's model: its follower counts them, and it rebuilds."""
    taker = make_app(redis_url=REDIS_URL)
    other = make_app(redis_url=REDIS_URL, personalize_rebuild_events=6, personalize_rebuild_min_s=1)
    time.sleep(1.1)  # a rebuild waits SHOPGUIDE_PERSONALIZE_REBUILD_MIN_S after the last build
    send(taker.test_client(), [event("purchase", f"pair-{i}", pid) for i in range(3) for pid in ("SG-OUT-0003", "SG-OUT-0017")])
    deps = other.extensions["shopguide"]
    recommender = deps.personalizer.recommender
    deadline = time.monotonic() + 20
    while (deps.follower.observed < 6 or recommender.rebuilds < 1) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert deps.follower.observed == 6 and recommender.rebuilds >= 1
    history = [Interaction("SG-OUT-0003", EventType.purchase, 1)]
    affinity = recommender.rerank(history, ["SG-OUT-0017"])["SG-OUT-0017"]
    assert affinity.score > 0 and affinity.because == ("SG-OUT-0003",)


def test_the_stream_is_capped_by_age(make_app, picks, redis_prefix):
    app = make_app(redis_url=REDIS_URL, events_stream_max_age_days=0.3 / 86400)  # 0.3 s
    client = app.test_client()
    send(client, [event("view", "u-old", "SG-OUT-0001")])
    time.sleep(0.5)
    send(client, [event("view", "u-new", "SG-OUT-0002")])
    entries = redis.Redis.from_url(REDIS_URL).xrange(f"{redis_prefix}:ev:log")
    assert len(entries) == 1 and entries[0][1][b"u"] == UserKeys().user("u-new").encode()
