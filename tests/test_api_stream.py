"""Server-sent events on /v1/chat and /v1/recommend, over real HTTP, from a scripted upstream that streams
(paced, cut off, malformed, failing mid-stream) to a client that may leave."""

from __future__ import annotations

import time

import pytest

from tests.support.openai_upstream import cut_after, error_after, malformed_after, reply_fn, status, stream
from tests.support.picks import pick_first_k, prompt_candidates
from tests.support.redis_db import REDIS_URL
from tests.support.sse import SSE, serve
from tests.support.sse import stream as sse_stream
from tests.support.waiting import wait_for

VOLATILE = {"request_id", "timings_ms", "session_id", "turn"}


def same_answer(done, full):
    return {k: v for k, v in done.items() if k not in VOLATILE} == {k: v for k, v in full.items() if k not in VOLATILE}


def assert_well_formed(got, catalog):
    names = got.names()
    assert names[0] == "understood" and names[-1] in ("done", "error")
    assert names.count("done") + names.count("error") == 1
    if names[-1] == "done":
        # the items streamed since the last restart are the answer's items, in order
        last = max((i for i, n in enumerate(names) if n == "restart"), default=-1)
        streamed = [data["id"] for name, data, _ in got.events[last + 1 :] if name == "item"]
        assert streamed == [item["id"] for item in got.done["items"]]
        for item_id in streamed:
            assert catalog.get(item_id) is not None and catalog.get(item_id).in_stock


@pytest.fixture
def paced(make_app, upstream):
    upstream.default(reply_fn(pick_first_k))
    upstream.set_stream(ttft_s=0.2, tokens_per_s=200)
    return make_app(redis_url=REDIS_URL, cache_ttl_s=0)


def test_recommend_streams_and_done_equals_the_full_answer(paced, upstream, demo_catalog):
    body = {"query": "warm down jacket for winter", "k": 3}
    with serve(paced) as base:
        got = sse_stream(base, "/v1/recommend", body)
    assert_well_formed(got, demo_catalog)
    assert got.of("understood")[0]["category"].startswith("Clothing/Outerwear")
    assert len(got.of("item")) == 3 and got.of("summary") and got.of("reason")
    assert "".join(d["delta"] for d in got.of("summary")) == got.done["summary"]
    assert upstream.chat_requests[-1].stream and upstream.streams[-1].outcome == "complete"
    full = paced.test_client().post("/v1/recommend", json=body).json
    assert same_answer(got.done, full)


def test_first_item_arrives_before_the_upstream_finished(make_app, upstream, demo_catalog):
    upstream.default(reply_fn(pick_first_k))
    upstream.set_stream(ttft_s=0.2, tokens_per_s=40)
    app = make_app(redis_url=REDIS_URL)
    with serve(app) as base:
        got = sse_stream(base, "/v1/chat", {"message": "降噪耳机", "k": 3})
    record = upstream.streams[-1]
    assert record.outcome == "complete" and record.ended_at is not None
    assert got.first_at("item") < record.ended_at - 0.5  # ~2 s of tokens were still to come
    assert_well_formed(got, demo_catalog)


def test_chat_stream_done_equals_the_unstreamed_turn(paced, demo_catalog):
    with serve(paced) as base:
        got = sse_stream(base, "/v1/chat", {"message": "noise cancelling headphones", "k": 3})
        sid = got.done["session_id"]
        follow = sse_stream(base, "/v1/chat", {"session_id": sid, "message": "cheaper", "k": 3})
    assert_well_formed(got, demo_catalog)
    assert "".join(d["delta"] for d in got.of("reply")) == got.done["reply"]
    assert follow.of("understood")[0]["price_max"] < min(i["price"] for i in got.done["items"])
    client = paced.test_client()
    plain = client.post("/v1/chat", json={"message": "noise cancelling headphones", "k": 3}).json
    assert same_answer(got.done, plain)
    second = client.post("/v1/chat", json={"session_id": plain["session_id"], "message": "cheaper", "k": 3}).json
    assert same_answer(follow.done, second)


def test_cached_answer_streams_at_once(make_app, upstream, demo_catalog):
    upstream.default(reply_fn(pick_first_k))
    upstream.set_stream(ttft_s=0.5, tokens_per_s=50)
    app = make_app(redis_url=REDIS_URL)
    body = {"query": "running shoes", "k": 2}
    assert not app.test_client().post("/v1/recommend", json=body).json["cached"]
    with serve(app) as base:
        got = sse_stream(base, "/v1/recommend", body)
    assert got.first_at("done") - got.first_at("understood") < 0.2  # no model call (0.5 s to a first token)
    assert got.done["cached"] and upstream.calls == 1
    assert got.names()[:3] == ["understood", "item", "item"] and got.of("summary")
    assert_well_formed(got, demo_catalog)


@pytest.mark.parametrize("fault", [cut_after(12), cut_after(12, clean=True), malformed_after(10), error_after(10)])
def test_broken_stream_is_retried_and_still_ends_in_a_valid_done(paced, upstream, demo_catalog, fault):
    upstream.script(stream(reply_fn(pick_first_k).fn, fault=fault))
    with serve(paced) as base:
        got = sse_stream(base, "/v1/recommend", {"query": "warm down jacket", "k": 3})
    assert_well_formed(got, demo_catalog)
    assert got.names()[-1] == "done" and not got.done["degraded"] and len(got.done["items"]) == 3
    assert upstream.calls == 2 and upstream.streams[0].outcome == "fault"
    if fault.after >= 12 and got.of("item"):
        assert "restart" in got.names()


def test_upstream_that_keeps_failing_ends_in_a_degraded_done(make_app, upstream, demo_catalog):
    upstream.default(stream(reply_fn(pick_first_k).fn, fault=cut_after(15)))
    app = make_app(redis_url=REDIS_URL, retries=1)
    with serve(app) as base:
        got = sse_stream(base, "/v1/chat", {"message": "noise cancelling headphones under $200", "k": 3})
    assert_well_formed(got, demo_catalog)
    done = got.done
    assert done["degraded"] and done["items"] and all(i["price"] <= 200 for i in done["items"])
    assert "restart" in got.names()  # an item streamed from the broken answer was taken back


def test_no_degraded_answers_means_a_clear_error_event(make_app, upstream):
    upstream.default(status(500))
    app = make_app(redis_url=REDIS_URL, retries=0, degraded_answers=False)
    with serve(app) as base:
        got = sse_stream(base, "/v1/recommend", {"query": "warm down jacket", "k": 3})
    assert got.names() == ["understood", "error"]
    error = got.of("error")[0]["error"]
    assert error["code"] and error["message"] and set(error) == {"code", "message", "field"}


def test_client_that_disconnects_stops_the_upstream_call(make_app, upstream):
    upstream.default(reply_fn(pick_first_k))
    upstream.set_stream(ttft_s=0.1, tokens_per_s=20)  # ~15 s of tokens for 3 items
    app = make_app(redis_url=REDIS_URL)
    with serve(app) as base:
        got = sse_stream(base, "/v1/chat", {"message": "降噪耳机", "k": 3}, stop_after="item")
        assert got.names()[-1] == "item"
        wait_for(lambda: upstream.streams and upstream.streams[-1].outcome != "streaming", timeout_s=5)
    record = upstream.streams[-1]
    assert record.outcome == "client_closed" and record.sent < record.total
    assert upstream.calls == 1  # not retried, no fallback


def test_client_that_leaves_during_a_slow_first_token_stops_the_call(make_app, upstream):
    upstream.default(reply_fn(pick_first_k))
    upstream.set_stream(ttft_s=3.0, tokens_per_s=50)
    app = make_app(redis_url=REDIS_URL, timeout_s=10.0, deadline_s=15.0)
    with serve(app) as base:
        started = time.monotonic()
        got = sse_stream(base, "/v1/recommend", {"query": "down jacket", "k": 2}, stop_after="understood")
        wait_for(lambda: upstream.streams and upstream.streams[-1].outcome != "streaming", timeout_s=6)
    assert got.names() == ["understood"]
    record = upstream.streams[-1]
    # the upstream notices at its first writes after the slow first token (the first tokens may still fit the
    # socket's buffer, and under load the web side may take a token's 20 ms or more to close its call after the
    # client's first event failed): the call was closed, not read to its end
    assert record.outcome == "client_closed" and record.sent <= 3 < record.total
    assert record.ended_at - record.started_at < 3.6
    assert upstream.calls == 1 and time.monotonic() - started < 5


def test_without_the_header_nothing_streams(paced, upstream):
    response = paced.test_client().post("/v1/chat", json={"message": "降噪耳机"}, headers={"Accept": "*/*"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert not upstream.chat_requests[-1].stream


def test_unknown_session_is_a_404_not_a_stream(paced):
    response = paced.test_client().post("/v1/chat", json={"message": "x", "session_id": "Z" * 24}, headers=SSE)
    assert response.status_code == 404 and response.json["error"]["code"] == "session_not_found"


def test_a_question_turn_streams_its_reply_from_data_only(paced, demo_catalog):
    with serve(paced) as base:
        first = sse_stream(base, "/v1/chat", {"message": "降噪耳机", "k": 3})
        sid = first.done["session_id"]
        asked = sse_stream(base, "/v1/chat", {"session_id": sid, "message": "第二个有降噪吗？", "k": 3})
    assert_well_formed(asked, demo_catalog)
    assert "".join(d["delta"] for d in asked.of("reply")) == asked.done["reply"]
    assert len(asked.of("reply")) == 1 and asked.done["referred"] == [first.done["items"][1]["id"]]


def test_streamed_items_say_what_personalized_them(paced, demo_catalog):
    """An item event carries personalized and because, as the done answer's items do."""
    liked = [p.id for p in demo_catalog.products if p.brand == "鹅岭"]
    client = paced.test_client()
    events = [{"type": "add_to_cart", "user_id": "u-stream-fan", "product_id": pid} for pid in liked]
    assert client.post("/v1/events", json={"events": events}).json["accepted"] == len(events)
    body = {"query": "warm down jacket for winter", "k": 5, "user": {"id": "u-stream-fan"}}
    with serve(paced) as base:
        got = sse_stream(base, "/v1/recommend", body)
    assert_well_formed(got, demo_catalog)
    streamed = {item["id"]: item for item in got.of("item")}
    assert streamed and all("personalized" in item and "because" in item for item in streamed.values())
    for item in got.done["items"]:
        assert (streamed[item["id"]]["personalized"], streamed[item["id"]]["because"]) == (
            item["personalized"], item["because"])
    assert any(item["personalized"] for item in got.done["items"])


@pytest.mark.parametrize(("path", "body"), [("/v1/chat", {"message": "降噪耳机", "k": 3}),
                                            ("/v1/recommend", {"query": "降噪耳机", "k": 3})])
def test_a_small_models_compact_form_streams_and_a_client_that_leaves_stops_it(make_app, upstream, path, body):
    """A provider set to the compact prompt is sent the compact form streamed, so a client that leaves stops
    the generation (a model server on a CPU would otherwise run to the deadline for nobody)."""
    upstream.default(reply_fn(pick_first_k))
    upstream.set_stream(ttft_s=0.1, tokens_per_s=20)
    app = make_app(redis_url=REDIS_URL, cache_ttl_s=0, providers="tiny",
                   extra_providers={"tiny": {"base_url": upstream.base_url, "model": "tiny", "prompt_style": "compact"}})
    with serve(app) as base:
        got = sse_stream(base, path, body, stop_after="item")
        assert got.names()[-1] == "item"
        wait_for(lambda: upstream.streams and upstream.streams[-1].outcome != "streaming", timeout_s=5)
    sent = upstream.chat_requests[-1]
    assert sent.stream and "Pick the candidate products" in sent.messages[0]["content"]  # the compact form
    record = upstream.streams[-1]
    assert record.outcome == "client_closed" and record.sent < record.total
    assert upstream.calls == 1


@pytest.mark.parametrize(("path", "body"), [("/v1/chat", {"message": "a warm down jacket for winter", "k": 2}),
                                            ("/v1/recommend", {"query": "a warm down jacket for winter", "k": 2})])
def test_a_small_models_reasons_stream_whole_and_only_those_the_answer_keeps(make_app, upstream, demo_catalog, path, body):
    """Of a small model's streamed answer, a reason goes out whole and only when the final answer keeps it; one
    it replaces (a date, as the packaged model writes) never streams, and its replacement goes out before done."""

    def small_model(request):
        ids = [c["id"] for c in prompt_candidates(request)]
        return {"items": [{"id": ids[0], "reason": "Warm down for winter walks. Light to carry."},
                          {"id": ids[1], "reason": "2022-01-01"}]}

    upstream.default(reply_fn(small_model))
    upstream.set_stream(ttft_s=0.05, tokens_per_s=400)
    app = make_app(redis_url=REDIS_URL, cache_ttl_s=0, providers="tiny",
                   extra_providers={"tiny": {"base_url": upstream.base_url, "model": "tiny", "prompt_style": "compact"}})
    with serve(app) as base:
        got = sse_stream(base, path, body)
    assert_well_formed(got, demo_catalog)
    assert upstream.chat_requests[-1].stream and "restart" not in got.names()
    first, second = got.done["items"]
    assert first["reason"] == "Warm down for winter walks. Light to carry." and first["source"] == second["source"] == "llm"
    assert second["reason"] != "2022-01-01" and demo_catalog.get(second["id"]).brand in second["reason"]
    reasons = got.of("reason")
    assert not any("2022" in r["delta"] for r in reasons)
    assert [r for r in reasons if r["id"] == first["id"]] == [{"id": first["id"], "delta": first["reason"]}]  # whole
    assert "".join(r["delta"] for r in reasons if r["id"] == second["id"]) == second["reason"]
    assert got.names().index("item") < min(i for i, n in enumerate(got.names()) if n == "reason")
