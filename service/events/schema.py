"""The POST /v1/events contract (one event, a batch, the answer) and the GET /v1/users/{id}/history view.

A batch is checked event by event (:mod:`service.events.ingest`): one bad event is
rejected with its index, field and message while the good ones are stored.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from service.personalize.contract import EventType
from service.validate.base import FieldError, StrictModel

MAX_BATCH = 1000
EARLIEST_MS = 946_684_800_000  # 2000-01-01: anything earlier is a unit mistake (epoch seconds), not an event
RATING_RANGE = (1.0, 5.0)

_EXAMPLE = {
    "event_id": "7f1c2a9e-click-1",
    "type": "click",
    "user_id": "shopper-42",
    "session_id": "s-2024-11-30-a",
    "product_id": "SG-OUT-0001",
    "recommendation_id": "4b6f0c8e2d1a4e5f9a7b3c2d1e0f9a8b",
    "position": 0,
    "timestamp": "2026-11-30T08:15:00Z",
}


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_timestamp(value: int | str) -> int:
    """Epoch milliseconds from epoch milliseconds or ISO-8601 text (no zone: UTC).

    :raises ValueError: naming what is wrong.
    """
    if isinstance(value, bool):
        raise ValueError("must be ISO-8601 text or epoch milliseconds, not a boolean")
    if isinstance(value, int):
        ms = value
    else:
        text = value.strip()
        if text.isdigit():  # epoch milliseconds as text (a CSV column)
            return parse_timestamp(int(text))
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not ISO-8601 (e.g. 2026-11-30T08:15:00Z) or epoch milliseconds") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        ms = int(moment.timestamp() * 1000)
    if ms < EARLIEST_MS:
        raise ValueError("before 2000-01-01 (epoch seconds where milliseconds are expected?)")
    return ms


class EventIn(StrictModel):
    """One thing a shopper did to one product.

    Validated from parsed JSON one event at a time: numbers and booleans are held to their types
    (``"3"`` is not a position), while numeric ids read as text (``"user_id": 42`` is user ``"42"``),
    as catalog ids do.
    """

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, json_schema_extra={"examples": [_EXAMPLE]})

    event_id: str | None = Field(
        None, min_length=1, max_length=128, description="Your id for the event: one sent twice is stored once."
    )
    type: EventType = Field(description="view, click, add_to_cart, purchase, dismiss or rating.")
    user_id: str = Field(min_length=1, max_length=200, description="The shopper (stored as a keyed hash only).")
    session_id: str | None = Field(None, min_length=1, max_length=200, description="The shopper's session, if known.")
    product_id: str = Field(min_length=1, max_length=256, description="A catalog product id.")
    recommendation_id: str | None = Field(
        None, min_length=1, max_length=128, description="The request_id of the /v1/recommend answer that showed it."
    )
    position: Annotated[int, Strict()] | None = Field(None, ge=0, le=1000, description="Its place in that answer (0-based).")
    value: Annotated[float, Strict()] | None = Field(
        None, ge=0, allow_inf_nan=False, description="The rating (1-5) for rating events; optional otherwise."
    )
    timestamp: Annotated[int, Strict()] | Annotated[str, Strict()] | None = Field(
        None, description="When it happened: ISO-8601 text or epoch milliseconds; default: when it arrived."
    )

    @field_validator("timestamp")
    @classmethod
    def _timestamp(cls, value: int | str | None) -> int | None:
        return None if value is None else parse_timestamp(value)

    @model_validator(mode="after")
    def _cross_fields(self) -> EventIn:
        if self.type is EventType.rating:
            if self.value is None:
                raise FieldError("value", "a rating needs a value from 1 to 5")
            if not RATING_RANGE[0] <= self.value <= RATING_RANGE[1]:
                raise FieldError("value", "a rating's value must be from 1 to 5")
        if self.position is not None and self.recommendation_id is None:
            raise FieldError("recommendation_id", "required when position is given (the answer it is a place in)")
        return self

    def timestamp_ms(self) -> int:
        return self.timestamp if isinstance(self.timestamp, int) else now_ms()


class EventBatch(StrictModel):
    """Up to 1,000 events; each is checked on its own."""

    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class RejectedEvent(BaseModel):
    index: int = Field(description="The event's position in the batch (0-based).")
    field: str | None = Field(description="The field to fix, e.g. product_id; null when the event is not an object.")
    message: str


class EventsAnswer(BaseModel):
    request_id: str
    accepted: int = Field(description="Events stored now.")
    duplicates: int = Field(description="Events whose event_id was already stored: kept once, not stored again.")
    rejected: list[RejectedEvent] = Field(description="Events not stored, each with what was wrong.")


class HistoryEvent(BaseModel):
    event_id: str
    type: EventType
    product_id: str
    timestamp: int = Field(description="Epoch milliseconds.")
    value: float | None = None
    recommendation_id: str | None = None
    position: int | None = None
    shown: bool | None = Field(
        None,
        description="For an event with a recommendation_id: whether that answer showed this product at this "
        "position (null when the answer is no longer kept).",
    )


class Impression(BaseModel):
    request_id: str = Field(description="The /v1/recommend answer's request_id.")
    items: list[str] = Field(description="The product ids it returned, in order.")
    timestamp: int


class HistoryView(BaseModel):
    """Everything kept about one shopper."""

    events: list[HistoryEvent] = Field(description="Recent events, newest first (capped, expiring).")
    dismissed: list[str] = Field(description="Products this shopper dismissed: never recommended to them again.")
    purchased: list[str] = Field(description="Products this shopper bought: left out unless a request asks.")
    impressions: list[Impression] = Field(description="Recent answers shown to this shopper, newest first.")
    stream_events: int = Field(description="This shopper's events in the event stream (what training reads).")


class Forgotten(BaseModel):
    deleted: bool = Field(description="True when anything was kept about this shopper.")
    keys: int = Field(description="Keys and stream entries removed.")
    conversations: int = Field(0, description="Chat sessions (the shopper's own words) deleted.")


def rejected(index: int, err: dict[str, Any]) -> RejectedEvent:
    """One pydantic error of event ``index`` as the answer lists it."""
    ctx = err.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, FieldError):
        return RejectedEvent(index=index, field=cause.field, message=cause.message)
    loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
    field = loc[0] if loc else None
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        message = "unknown field"
    elif kind == "missing":
        message = "required"
    elif kind == "model_type":
        message = "an event must be a JSON object"
    else:
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if field == "timestamp" and kind.endswith("_type"):
        message = "must be ISO-8601 text or epoch milliseconds"
    return RejectedEvent(index=index, field=field, message=message)
