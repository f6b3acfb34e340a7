"""A batch of events checked one by one: the good ones stored once each, every bad one named by index and field."""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from service.catalog.load import Catalog
from service.errors import InvalidRequest
from service.events.keys import UserKeys
from service.events.schema import MAX_BATCH, EventIn, RejectedEvent, now_ms, rejected
from service.events.store import EventStore, StoredEvent
from service.ops.metrics import Metrics
from service.personalize.contract import Interaction, Recommender

log = logging.getLogger(__name__)


@dataclass
class Checked:
    """A batch after checking: what can be stored, and what was rejected."""

    events: list[StoredEvent] = field(default_factory=list)
    rejected: list[RejectedEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Ingested:
    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]


def batch_events(body: bytes) -> list[Any]:
    """The ``events`` list of a POST /v1/events body, unchecked.

    :raises InvalidRequest: when the body is not ``{"events": [1..1000 items]}``.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidRequest("body must be a JSON object")
    unknown = sorted(set(data) - {"events"})
    if unknown:
        raise InvalidRequest(f"{unknown[0]}: unknown field", field=unknown[0])
    events = data.get("events")
    if not isinstance(events, list):
        raise InvalidRequest("events: a list of events is required", field="events")
    if not 1 <= len(events) <= MAX_BATCH:
        raise InvalidRequest(f"events: from 1 to {MAX_BATCH} events per batch, got {len(events)}", field="events")
    return events


class EventIngest:
    """Checks events against the contract and the catalog, stores them, and tells the recommender."""

    def __init__(
        self,
        store: EventStore,
        catalog: Catalog,
        keys: UserKeys,
        *,
        max_future_ms: int = 3_600_000,
        recommender: Recommender | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self._known = catalog.by_id
        self._keys = keys
        self._max_future_ms = max_future_ms
        self._recommender = recommender
        self._metrics = metrics

    def check(self, raw_events: Iterable[Any], *, indexes: Iterable[int] | None = None) -> Checked:
        """Each event checked on its own; ``indexes`` number them in rejections (default 0, 1, ...)."""
        out = Checked()
        now = now_ms()
        latest = now + self._max_future_ms
        user_key, session_key = self._keys.user, self._keys.session
        known = self._known
        for index, raw in zip(itertools.count() if indexes is None else indexes, raw_events):
            try:
                event = EventIn.model_validate(raw)
            except ValidationError as exc:
                out.rejected.append(rejected(index, exc.errors(include_url=False)[0]))
                continue
            if event.product_id not in known:
                out.rejected.append(RejectedEvent(index=index, field="product_id", message="unknown product"))
                continue
            ts = event.timestamp if isinstance(event.timestamp, int) else now
            if ts > latest:
                out.rejected.append(
                    RejectedEvent(index=index, field="timestamp", message="in the future (beyond the allowed clock skew)")
                )
                continue
            out.events.append(
                StoredEvent(
                    event_id=event.event_id or uuid.uuid4().hex,
                    user_key=user_key(event.user_id),
                    interaction=Interaction(event.product_id, event.type, ts, event.value),
                    session_key=session_key(event.session_id) if event.session_id else None,
                    recommendation_id=event.recommendation_id,
                    position=event.position,
                )
            )
        return out

    def ingest(self, raw_events: list[Any]) -> Ingested:
        """Check and store one batch.

        :raises EventStoreUnavailable: nothing was stored (the client should retry the batch).
        """
        checked = self.check(raw_events)
        return self.store_checked(checked)

    def store_checked(self, checked: Checked) -> Ingested:
        result = self.store.append(checked.events)
        if self._recommender is not None:
            for event in result.stored:
                try:
                    self._recommender.observe(event.user_key, event.interaction)
                except Exception:  # the event is stored; a model that cannot learn from it must not fail the batch
                    log.exception("recommender failed to observe an event")
        if self._metrics is not None:
            counter = self._metrics.events
            for outcome, n in (("accepted", result.accepted), ("duplicate", result.duplicates),
                               ("rejected", len(checked.rejected))):
                if n:
                    counter.labels(outcome).inc(n)
        return Ingested(result.accepted, result.duplicates, checked.rejected)
