"""POST /v1/events through the app, on the real Redis and the in-process store."""

from __future__ import annotations

import pytest

from service.events.keys import UserKeys
from tests.support.api_keys import bearer
from tests.support.redis_db import DOWN_REDIS_URL, REDIS_URL
from tests.support.shopper_events import event, everything_under, send

GOOD = "SG-OUT-0001"


@pytest.fixture(params=["redis", "memory"])
def app(request, make_app):
    return make_app(redis_url=REDIS_URL if request.param == "redis" else None)


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        ({"type": "wink"}, "type", "'view'"),
        ({"product_id": "NO-SUCH-PRODUCT"}, "product_id", "unknown product"),
        ({"user_id": ""}, "user_id", "at least 1"),
        ({"user_id": None}, "user_id", "string"),
        ({"timestamp": "yesterday"}, "timestamp", "ISO-8601"),
        ({"timestamp": 1_700_000_000}, "timestamp", "epoch seconds"),
        ({"timestamp": 4_102_444_800_000}, "timestamp", "future"),
        ({"timestamp": 1.5e12}, "timestamp", "epoch milliseconds"),
        ({"position": -1, "recommendation_id": "r1"}, "position", "greater than or equal to 0"),
        ({"position": "2", "recommendation_id": "r1"}, "position", "integer"),
        ({"position": 2}, "recommendation_id", "position"),
        ({"type": "rating"}, "value", "1 to 5"),
        ({"type": "rating", "value": 6}, "value", "1 to 5"),
        ({"value": "4"}, "value", "number"),
        ({"session_id": ["a"]}, "session_id", "string"),
        ({"event_id": "x" * 200}, "event_id", "at most 128"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_each_bad_field_is_rejected_alone(app, bad, field, words):
    good_before = event("view", "u-fields", GOOD)
    good_after = event("click", "u-fields", "SG-OUT-0002", timestamp="2026-11-30T08:15:00+08:00")
    answer = send(app.test_client(), [good_before, {**event("view", "u-fields", GOOD), **bad}, good_after])
    assert answer["accepted"] == 2 and answer["duplicates"] == 0
    assert len(answer["rejected"]) == 1
    rejected = answer["rejected"][0]
    assert rejected["index"] == 1 and rejected["field"] == field, rejected
    assert words in rejected["message"], rejected
    assert answer["request_id"]


def test_missing_fields_and_non_objects(app):
    answer = send(app.test_client(), [{"type": "view", "product_id": GOOD}, "view", 7, event("view", "u1", GOOD)])
    assert answer["accepted"] == 1
    assert [(r["index"], r["field"]) for r in answer["rejected"]] == [(0, "user_id"), (1, None), (2, None)]
    assert answer["rejected"][0]["message"] == "required"


def test_timestamps_iso_and_epoch_ms(app):
    client = app.test_client()
    send(client, [
        event("view", "u-ts", GOOD, timestamp="2026-11-30T08:15:00Z"),
        event("view", "u-ts", "SG-OUT-0002", timestamp=1_796_026_500_000),
        event("view", "u-ts", "SG-OUT-0003", timestamp="2026-11-30 08:15:00"),  # no zone: UTC
    ])
    history = client.get("/v1/users/u-ts/history").json
    assert sorted(e["timestamp"] for e in history["events"]) == [1_796_026_500_000] * 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": []}, "events"),
        ({"events": {"type": "view"}}, "events"),
        ({}, "events"),
        ({"events": [event("view", "u", GOOD)], "extra": 1}, "extra"),
        ({"events": [event("view", "u", GOOD)] * 1001}, "events"),
    ],
)
def test_bad_batches_are_400_naming_the_field(app, body, field):
    response = app.test_client().post("/v1/events", json=body)
    assert response.status_code == 400
    assert response.json["error"]["field"] == field


def test_not_json_and_wrong_type(app):
    client = app.test_client()
    assert client.post("/v1/events", data="{", content_type="application/json").json["error"]["code"] == "invalid_json"
    assert client.post("/v1/events", data="x", content_type="text/plain").status_code == 415


def test_a_full_batch_of_1000_fits_the_body_limit(app):
    events = [event("view", f"u-big-{i % 50}", GOOD, session_id=f"s-{i}") for i in range(1000)]
    answer = send(app.test_client(), events)
    assert answer["accepted"] == 1000 and answer["rejected"] == []


def test_an_event_id_sent_twice_is_stored_once(app):
    client = app.test_client()
    first = event("purchase", "u-idem", GOOD, event_id="order-17")
    assert send(client, [first])["accepted"] == 1
    again = send(client, [first, {**first}, event("view", "u-idem", "SG-OUT-0002")])
    assert again["accepted"] == 1 and again["duplicates"] == 2
    history = client.get("/v1/users/u-idem/history").json
    assert [e["event_id"] for e in history["events"]].count("order-17") == 1
    assert history["stream_events"] == 2


def test_the_same_event_id_of_two_shoppers_is_two_events(app):
    client = app.test_client()
    answer = send(client, [event("view", "u-a", GOOD, event_id="e1"), event("view", "u-b", GOOD, event_id="e1")])
    assert answer["accepted"] == 2


def test_an_accepted_event_outlives_the_worker_that_took_it(make_app):
    send(make_app(redis_url=REDIS_URL).test_client(), [event("add_to_cart", "u-survive", GOOD)])
    fresh = make_app(redis_url=REDIS_URL)  # another process's app: nothing shared but Redis
    assert [e["product_id"] for e in fresh.test_client().get("/v1/users/u-survive/history").json["events"]] == [GOOD]


def test_redis_down_stores_nothing_and_says_retry(make_app):
    response = make_app(redis_url=DOWN_REDIS_URL).test_client().post(
        "/v1/events", json={"events": [event("view", "u", GOOD)]}
    )
    assert response.status_code == 503
    assert "send it again" in response.json["error"]["message"]


def test_raw_ids_are_never_stored(make_app, redis_prefix):
    client = make_app(redis_url=REDIS_URL).test_client()
    send(client, [event("view", "shopper-raw-id-77", GOOD, session_id="session-raw-id-88")])
    dump = repr(everything_under(redis_prefix))
    assert "shopper-raw-id-77" not in dump and "session-raw-id-88" not in dump
    assert UserKeys().user("shopper-raw-id-77") in dump  # only its keyed hash


def test_scopes(make_app):
    from service.ops.auth import hash_key
    from tests.support.api_keys import ENTRIES, KEYS

    entries = ENTRIES + f",ingest:{hash_key('sg_ingest_key_0123456789')}:events:write"
    entries += f",admin:{hash_key('sg_admin_key_0123456789')}:users:admin"
    client = make_app(api_keys=entries).test_client()
    body = {"events": [event("view", "u-scope", GOOD)]}
    ingest = {"Authorization": "Bearer sg_ingest_key_0123456789"}
    admin = {"Authorization": "Bearer sg_admin_key_0123456789"}
    assert client.post("/v1/events", json=body).status_code == 401
    assert client.post("/v1/events", json=body, headers=bearer("shop")).status_code == 403
    assert client.post("/v1/events", json=body, headers=admin).status_code == 403
    assert client.post("/v1/events", json=body, headers=ingest).status_code == 200
    assert client.get("/v1/users/u-scope/history", headers=ingest).status_code == 403
    assert client.get("/v1/users/u-scope/history", headers=admin).status_code == 200
    assert client.delete("/v1/users/u-scope", headers=ingest).status_code == 403
    assert client.delete("/v1/users/u-scope", headers=admin).status_code == 200
    assert KEYS  # the shared keys stay valid next to the new scopes
