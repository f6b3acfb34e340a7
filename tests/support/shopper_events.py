"""Shopper events through the HTTP API, for tests and benches: building events, sending them, reading what Redis keeps."""

from __future__ import annotations

import itertools
from typing import Any

import redis

from tests.support.redis_db import REDIS_URL

_ids = itertools.count()


def event(type_: str, user_id: str, product_id: str, **more: Any) -> dict[str, Any]:
    """One event body; ``event_id`` is fresh unless given."""
    body = {"event_id": f"ev-{next(_ids)}", "type": type_, "user_id": user_id, "product_id": product_id}
    body.update(more)
    return body


def send(client, events: list[dict[str, Any]], headers: dict[str, str] | None = None) -> dict[str, Any]:
    """POST /v1/events, expecting 200; the answer."""
    response = client.post("/v1/events", json={"events": events}, headers=headers or {})
    assert response.status_code == 200, response.json
    return response.json


def everything_under(prefix: str, url: str = REDIS_URL) -> dict[bytes, Any]:
    """Every key holding ``prefix`` and its whole value (strings, lists, sets, zsets, hashes, streams)."""
    client = redis.Redis.from_url(url)
    try:
        out: dict[bytes, Any] = {}
        for key in client.scan_iter(f"*{prefix}*", count=1000):
            kind = client.type(key).decode()
            if kind == "string":
                out[key] = client.get(key)
            elif kind == "list":
                out[key] = client.lrange(key, 0, -1)
            elif kind == "set":
                out[key] = client.smembers(key)
            elif kind == "zset":
                out[key] = client.zrange(key, 0, -1)
            elif kind == "hash":
                out[key] = client.hgetall(key)
            elif kind == "stream":
                out[key] = client.xrange(key, "-", "+")
            else:
                out[key] = kind
        return out
    finally:
        client.close()


def learn(app, timeout_s: float = 10.0) -> None:
    """Make the app's recommender learn every event sent so far, now (it otherwise rebuilds in the background
    after SHOPGUIDE_PERSONALIZE_REBUILD_EVENTS events)."""
    import time

    deps = app.extensions["shopguide"]
    follower = deps.follower
    if follower is not None:  # its worker's view of the stream has caught up
        newest = deps.events.last_id()
        deadline = time.monotonic() + timeout_s
        while follower.last_id != newest and newest != "0-0" and time.monotonic() < deadline:
            time.sleep(0.02)
    refresh = getattr(deps.personalizer.recommender, "refresh", None)
    if refresh is not None:
        refresh()
