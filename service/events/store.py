"""Where shopper events live: the interface both stores implement, and the in-process store.

A store keeps, under each shopper's keyed hash (never the raw id):

- the event stream: every accepted event, append-only, capped by length and age (what training reads,
  :meth:`EventStore.sequences`);
- the shopper's recent history (capped, expiring), their dismissed and purchased products, the event ids
  already stored (so a retried event is stored once), their recent impressions (what /v1/recommend showed
  them) and the answer-cache keys of answers personalized for them, so forgetting them removes those too.

The in-process store (REDIS_URL unset) lives and dies with its process, as the in-process cache does.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from service.personalize.contract import EventType, Interaction, ShopperSequence
from service.settings import Settings


@dataclass(frozen=True)
class StoredEvent:
    """An accepted event as the store keeps it: ids hashed, timestamp in epoch milliseconds."""

    event_id: str
    user_key: str
    interaction: Interaction
    session_key: str | None = None
    recommendation_id: str | None = None
    position: int | None = None

    def encode(self) -> bytes:
        i = self.interaction
        data: dict[str, Any] = {"id": self.event_id, "p": i.product_id, "t": i.type.value, "ts": i.timestamp_ms}
        if i.value is not None:
            data["v"] = i.value
        if self.session_key:
            data["s"] = self.session_key
        if self.recommendation_id:
            data["r"] = self.recommendation_id
        if self.position is not None:
            data["pos"] = self.position
        return orjson.dumps(data)

    @classmethod
    def decode(cls, user_key: str, blob: bytes | str) -> StoredEvent:
        data = orjson.loads(blob)
        return cls(
            event_id=data["id"],
            user_key=user_key,
            interaction=Interaction(data["p"], EventType(data["t"]), data["ts"], data.get("v")),
            session_key=data.get("s"),
            recommendation_id=data.get("r"),
            position=data.get("pos"),
        )


@dataclass(frozen=True)
class ImpressionRecord:
    request_id: str
    items: tuple[str, ...]
    timestamp_ms: int

    def encode(self) -> bytes:
        return orjson.dumps({"r": self.request_id, "i": list(self.items), "ts": self.timestamp_ms})

    @classmethod
    def decode(cls, blob: bytes | str) -> ImpressionRecord:
        data = orjson.loads(blob)
        return cls(data["r"], tuple(data["i"]), data["ts"])


@dataclass(frozen=True)
class ShopperState:
    """What personalization reads for one shopper."""

    history: tuple[Interaction, ...] = ()  # oldest first
    dismissed: frozenset[str] = frozenset()
    purchased: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.history or self.dismissed or self.purchased)


@dataclass(frozen=True)
class AppendResult:
    accepted: int
    duplicates: int
    stored: tuple[StoredEvent, ...] = ()  # the events stored now (not the duplicates)


@dataclass(frozen=True)
class ShopperRecord:
    """Everything kept about one shopper (GET /v1/users/{id}/history)."""

    events: tuple[StoredEvent, ...]  # newest first
    dismissed: frozenset[str]
    purchased: frozenset[str]
    impressions: tuple[ImpressionRecord, ...]  # newest first
    stream_events: int


class EventStoreUnavailable(Exception):
    """The store could not be reached: nothing was stored (the client should retry)."""


class EventStore(Protocol):
    """The event store both backends implement; :meth:`sequences` is the recommender's SequenceSource."""

    backend: str

    def append(self, events: Sequence[StoredEvent]) -> AppendResult:
        """Store each event whose id this shopper has not stored before, all or nothing.

        :raises EventStoreUnavailable: nothing was stored.
        """
        ...

    def state(self, user_key: str, limit: int) -> ShopperState:
        """The shopper's ``limit`` most recent interactions and exclusions.

        :raises EventStoreUnavailable: when the store cannot be read.
        """
        ...

    def record(self, user_key: str) -> ShopperRecord: ...

    def log_impression(self, user_key: str, impression: ImpressionRecord, answer_key: str | None) -> None:
        """What an answer showed this shopper; ``answer_key``: a cache key of an answer personalized for them.

        :raises EventStoreUnavailable: when it could not be written.
        """
        ...

    def forget(self, user_key: str) -> tuple[int, list[str]]:
        """Remove everything about the shopper: (keys and entries removed, answer-cache keys to drop)."""
        ...

    def sequences(self) -> Iterable[ShopperSequence]: ...

    def status(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class StoreLimits:
    stream_max_len: int = 1_000_000
    stream_max_age_ms: int = 0  # 0: no age cap
    history_max: int = 200
    ttl_ms: int = 180 * 86_400_000
    dedup_max: int = 10_000
    impressions_max: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreLimits:
        return cls(
            stream_max_len=settings.events_stream_max_len,
            stream_max_age_ms=int(settings.events_stream_max_age_days * 86_400_000),
            history_max=settings.events_history_max,
            ttl_ms=int(settings.events_history_ttl_days * 86_400_000),
            dedup_max=settings.events_dedup_max,
            impressions_max=settings.impressions_max,
        )


def sequences_from(events: Iterable[StoredEvent]) -> Iterator[ShopperSequence]:
    """Events grouped by shopper, each shopper's oldest first (stable for equal timestamps)."""
    by_user: dict[str, list[Interaction]] = {}
    for event in events:
        by_user.setdefault(event.user_key, []).append(event.interaction)
    for user_key, interactions in by_user.items():
        interactions.sort(key=lambda i: i.timestamp_ms)
        yield ShopperSequence(user_key, tuple(interactions))


def state_from(events: Iterable[StoredEvent], dismissed: Iterable[str], purchased: Iterable[str]) -> ShopperState:
    history = sorted((e.interaction for e in events), key=lambda i: i.timestamp_ms)
    return ShopperState(tuple(history), frozenset(dismissed), frozenset(purchased))


@dataclass
class _Shopper:
    history: deque[StoredEvent]
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    dismissed: set[str] = field(default_factory=set)
    purchased: set[str] = field(default_factory=set)
    impressions: deque[ImpressionRecord] = field(default_factory=deque)
    answers: set[str] = field(default_factory=set)
    touched: float = 0.0


class MemoryEventStore:
    """The in-process store: one process's events, lost with it (set REDIS_URL to keep them)."""

    backend = "memory"

    def __init__(self, limits: StoreLimits | None = None, clock: Any = time.time) -> None:
        self.limits = limits or StoreLimits()
        self._clock = clock
        self._lock = threading.Lock()
        self._log: deque[tuple[float, StoredEvent]] = deque()
        self._shoppers: dict[str, _Shopper] = {}

    def append(self, events: Sequence[StoredEvent]) -> AppendResult:
        limits, now = self.limits, self._clock()
        stored: list[StoredEvent] = []
        with self._lock:
            for event in events:
                shopper = self._shopper(event.user_key, now)
                if event.event_id in shopper.seen:
                    continue
                shopper.seen[event.event_id] = None
                while len(shopper.seen) > limits.dedup_max:
                    shopper.seen.popitem(last=False)
                shopper.history.appendleft(event)
                kind = event.interaction.type
                if kind is EventType.dismiss:
                    shopper.dismissed.add(event.interaction.product_id)
                elif kind is EventType.purchase:
                    shopper.purchased.add(event.interaction.product_id)
                self._log.append((now, event))
                stored.append(event)
            self._trim(now)
        return AppendResult(len(stored), len(events) - len(stored), tuple(stored))

    def state(self, user_key: str, limit: int) -> ShopperState:
        with self._lock:
            shopper = self._live(user_key)
            if shopper is None:
                return ShopperState()
            return state_from(list(shopper.history)[:limit], shopper.dismissed, shopper.purchased)

    def record(self, user_key: str) -> ShopperRecord:
        with self._lock:
            shopper = self._live(user_key)
            if shopper is None:
                return ShopperRecord((), frozenset(), frozenset(), (), 0)
            in_stream = sum(1 for _, e in self._log if e.user_key == user_key)
            return ShopperRecord(
                tuple(shopper.history),
                frozenset(shopper.dismissed),
                frozenset(shopper.purchased),
                tuple(shopper.impressions),
                in_stream,
            )

    def log_impression(self, user_key: str, impression: ImpressionRecord, answer_key: str | None) -> None:
        with self._lock:
            shopper = self._shopper(user_key, self._clock())
            shopper.impressions.appendleft(impression)
            while len(shopper.impressions) > self.limits.impressions_max:
                shopper.impressions.pop()
            if answer_key:
                shopper.answers.add(answer_key)

    def forget(self, user_key: str) -> tuple[int, list[str]]:
        with self._lock:
            shopper = self._shoppers.pop(user_key, None)
            before = len(self._log)
            self._log = deque(entry for entry in self._log if entry[1].user_key != user_key)
            removed = before - len(self._log)
            if shopper is None:
                return removed, []
            return removed + 1, sorted(shopper.answers)

    def sequences(self) -> Iterator[ShopperSequence]:
        with self._lock:
            events = [event for _, event in self._log]
        return sequences_from(events)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"backend": self.backend, "ok": True, "events": len(self._log), "shoppers": len(self._shoppers)}

    # -- inside the lock ---------------------------------------------------------------------
    def _shopper(self, user_key: str, now: float) -> _Shopper:
        shopper = self._live(user_key)
        if shopper is None:
            shopper = self._shoppers[user_key] = _Shopper(history=deque(maxlen=self.limits.history_max))
        shopper.touched = now
        return shopper

    def _live(self, user_key: str) -> _Shopper | None:
        shopper = self._shoppers.get(user_key)
        if shopper is not None and (self._clock() - shopper.touched) * 1000 > self.limits.ttl_ms:
            del self._shoppers[user_key]  # expired, as the Redis store's keys would have
            return None
        return shopper

    def _trim(self, now: float) -> None:
        limits = self.limits
        while len(self._log) > limits.stream_max_len:
            self._log.popleft()
        if limits.stream_max_age_ms:
            oldest = now - limits.stream_max_age_ms / 1000
            while self._log and self._log[0][0] < oldest:
                self._log.popleft()
