"""GET /v1/users/{user_id}/history and DELETE /v1/users/{user_id}: what is kept about a shopper, and forgetting it."""

from __future__ import annotations

from collections.abc import Callable

import redis
from flask import Blueprint, Response

from service.api.http import json_response
from service.api.openapi import Endpoint
from service.cache.singleflight import flight_keys
from service.cache.store import AnswerCache
from service.errors import InvalidRequest, ServiceUnavailable
from service.events.keys import UserKeys
from service.events.schema import Forgotten, HistoryEvent, HistoryView, Impression
from service.events.store import EventStore, EventStoreUnavailable, ShopperRecord

_USER = (("user_id", "path", "The shopper's id, as sent in events and /v1/recommend."),)
MAX_USER_ID = 200

ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/users/{user_id}/history",
        "Everything kept about one shopper",
        "users",
        HistoryView,
        errors=(400, 503),
        scope="users:admin",
        parameters=_USER,
        description="Recent events (each event with a recommendation_id joined to the answer that showed it), "
        "dismissed and purchased products, recent impressions, and how many of their events the stream holds.",
    ),
    Endpoint(
        "DELETE",
        "/v1/users/{user_id}",
        "Forget a shopper: history, exclusions, impressions, stream entries and answers personalized for them",
        "users",
        Forgotten,
        errors=(400, 503),
        scope="users:admin",
        parameters=_USER,
    ),
]


def history_view(record: ShopperRecord) -> HistoryView:
    shown = {imp.request_id: imp.items for imp in record.impressions}
    events = []
    for event in record.events:
        joined = None
        if event.recommendation_id is not None:
            items = shown.get(event.recommendation_id)
            if items is not None:
                pid = event.interaction.product_id
                joined = pid in items if event.position is None else (
                    event.position < len(items) and items[event.position] == pid
                )
        i = event.interaction
        events.append(
            HistoryEvent(
                event_id=event.event_id,
                type=i.type,
                product_id=i.product_id,
                timestamp=i.timestamp_ms,
                value=i.value,
                recommendation_id=event.recommendation_id,
                position=event.position,
                shown=joined,
            )
        )
    return HistoryView(
        events=events,
        dismissed=sorted(record.dismissed),
        purchased=sorted(record.purchased),
        impressions=[Impression(request_id=m.request_id, items=list(m.items), timestamp=m.timestamp_ms) for m in record.impressions],
        stream_events=record.stream_events,
    )


def users_blueprint(
    store: EventStore,
    keys: UserKeys,
    cache: AnswerCache,
    forget_conversations: Callable[[str], int] | None = None,
) -> Blueprint:
    """``forget_conversations(user_id)``: deletes the shopper's chat sessions (their own words), returns how many."""
    bp = Blueprint("users", __name__)

    def key_of(user_id: str) -> str:
        if not user_id.strip() or len(user_id) > MAX_USER_ID:
            raise InvalidRequest(f"user_id: 1 to {MAX_USER_ID} characters", field="user_id")
        return keys.user(user_id)

    @bp.get("/v1/users/<user_id>/history")
    def history(user_id: str) -> Response:
        try:
            record = store.record(key_of(user_id))
        except EventStoreUnavailable as exc:
            raise ServiceUnavailable(str(exc)) from None
        return json_response(history_view(record))

    @bp.delete("/v1/users/<user_id>")
    def forget(user_id: str) -> Response:
        try:
            removed, answers = store.forget(key_of(user_id))
        except EventStoreUnavailable as exc:
            raise ServiceUnavailable(f"{exc}; nothing was deleted, retry") from None
        try:
            # answers personalized for them (derived from their history), and their flights' published results
            cache.delete([k for answer in answers for k in (answer, *flight_keys(answer))])
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"answer cache unavailable ({type(exc).__name__}); retry the deletion") from None
        conversations = forget_conversations(user_id) if forget_conversations is not None else 0
        return json_response(
            Forgotten(deleted=removed + conversations > 0, keys=removed + len(answers), conversations=conversations)
        )

    return bp
