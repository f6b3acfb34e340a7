"""The contract between the event store (what shoppers did) and the recommender (what it implies).

Two halves are built apart: ``service/events/`` stores events and reads a shopper's history;
``service/personalize/`` learns item-to-item affinity from logged sequences and scores candidates.
They meet only through the types below, so either side can be replaced or tested alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol


class EventType(str, Enum):
    view = "view"
    click = "click"
    add_to_cart = "add_to_cart"
    purchase = "purchase"
    dismiss = "dismiss"
    rating = "rating"


@dataclass(frozen=True)
class Interaction:
    """One thing a shopper did to one product: the unit of history and of training data."""

    product_id: str
    type: EventType
    timestamp_ms: int
    value: float | None = None  # the rating (1–5) for ``rating`` events


@dataclass(frozen=True)
class ShopperSequence:
    """One shopper's interactions, oldest first, keyed by an opaque (hashed) shopper key, never a raw id."""

    user_key: str
    interactions: tuple[Interaction, ...]


@dataclass(frozen=True)
class Affinity:
    """How much a shopper's history speaks for one product, and which history items speak for it."""

    product_id: str
    score: float
    because: tuple[str, ...] = ()  # product ids from the history, strongest first
    source: str = "item2item"  # item2item | content | popular | trending


@dataclass(frozen=True)
class Signals:
    """What the history implies for one request; ``fingerprint`` goes into the cache key."""

    affinities: dict[str, Affinity] = field(default_factory=dict)
    excluded: frozenset[str] = frozenset()  # dismissed (always) and purchased (unless the request allows)
    fingerprint: str = ""  # "" when no personal signal shaped the answer: such answers share the cache


class SequenceSource(Protocol):
    """What the recommender trains from: the event store's log, or an imported file."""

    def sequences(self) -> Iterable[ShopperSequence]: ...


class Recommender(Protocol):
    """Scores products for a shopper's history. Built once in the app factory; thread-safe to read."""

    def rerank(self, history: Sequence[Interaction], candidate_ids: Sequence[str]) -> dict[str, Affinity]:
        """Affinity for each candidate (missing = none)."""
        ...

    def for_you(
        self,
        history: Sequence[Interaction],
        k: int,
        *,
        category: str | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> list[Affinity]:
        """Candidates with no query: item-to-item, content similarity to the history, popularity (cold start)."""
        ...

    def observe(self, user_key: str, interaction: Interaction) -> None:
        """An accepted event, for models kept current incrementally (may be a no-op)."""
        ...
