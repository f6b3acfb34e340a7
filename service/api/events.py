"""POST /v1/events: shopper events in batches, each event checked on its own."""

from __future__ import annotations

from flask import Blueprint, Response, request

from service.api.http import json_response, request_id
from service.api.openapi import Endpoint
from service.errors import PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType
from service.events.ingest import EventIngest, batch_events
from service.events.schema import EventBatch, EventsAnswer
from service.events.store import EventStoreUnavailable

ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/events",
        "Record what shoppers did: views, clicks, carts, purchases, dismissals, ratings",
        "events",
        EventsAnswer,
        EventBatch,
        errors=(400, 413, 415, 503),
        scope="events:write",
        description="A batch of 1 to 1,000 events. Each event is checked on its own: the answer counts what was "
        "stored and lists every rejected event with its index, field and message (an unknown product or type "
        "rejects that event only). An event_id sent again is stored once (counted in duplicates), so a batch "
        "can be retried safely. 503: the store did not confirm the batch; send it again.",
    )
]


def events_blueprint(ingest: EventIngest, max_body_bytes: int) -> Blueprint:
    bp = Blueprint("events", __name__)

    @bp.post("/v1/events")
    def post_events() -> Response:
        mimetype = request.mimetype
        if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
            raise UnsupportedMediaType(f"content type must be application/json, not {mimetype}")
        request.max_content_length = max_body_bytes  # a batch of 1,000 is larger than other requests
        if request.content_length is not None and request.content_length > max_body_bytes:
            raise PayloadTooLarge(f"body exceeds {max_body_bytes} bytes")
        raw = batch_events(request.get_data(cache=False))
        try:
            done = ingest.ingest(raw)
        except EventStoreUnavailable as exc:
            raise ServiceUnavailable(
                f"{exc}; the batch may not have been stored: send it again (events with an event_id are stored once)"
            ) from None
        answer = EventsAnswer(
            request_id=request_id(), accepted=done.accepted, duplicates=done.duplicates, rejected=done.rejected
        )
        return json_response(answer)

    return bp
