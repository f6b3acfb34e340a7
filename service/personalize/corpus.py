"""Shopper sequences encoded for learning: catalog positions, event-type weights, times; and their hash.

What a shopper did becomes three flat arrays (product position, weight, time) plus the offsets where
each shopper's run starts, so every model step is a vectorized numpy/scipy operation and the whole
log hashes to one key (the persisted model is keyed by it, as the retrieval index is by the catalog).

Event types weigh what they say about intent: a purchase counts most, then add-to-cart, click, view
(:class:`EventWeights`). A rating counts by its value (5 like a purchase, 2 or less not at all). A
``dismiss`` is never a positive signal: it is kept apart, per shopper, by
:func:`split_history`, and only ever weighs products down. Products that are not in the catalog are
left out (they cannot be recommended), and a run of the same product (view, click, add-to-cart,
purchase of one thing) collapses into one step carrying its strongest weight, so a shopper's
funnel on one product is one step of the sequence, not four.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from service.personalize.contract import EventType, Interaction, ShopperSequence


@dataclass(frozen=True)
class EventWeights:
    """How much each event type says about a shopper wanting a product (purchase > add_to_cart > click > view)."""

    purchase: float = 1.0
    add_to_cart: float = 0.7
    click: float = 0.4
    view: float = 0.2
    rating_top: float = 1.0  # a 5-star rating; 4 stars 2/3 of it, 3 stars 1/3, 2 or fewer nothing

    def __post_init__(self) -> None:
        order = [self.purchase, self.add_to_cart, self.click, self.view]
        if any(w < 0 for w in order) or order != sorted(order, reverse=True):
            raise ValueError(f"event weights must be >= 0 and purchase >= add_to_cart >= click >= view: {order}")

    def of(self, interaction: Interaction) -> float:
        """The positive weight of one interaction (0 for a dismiss or a low rating)."""
        kind = interaction.type
        if kind is EventType.dismiss:
            return 0.0
        if kind is EventType.rating:
            value = interaction.value if interaction.value is not None else 5.0
            return self.rating_top * min(max((value - 2.0) / 3.0, 0.0), 1.0)
        return float(getattr(self, kind.value))


@dataclass(frozen=True)
class History:
    """One shopper's history as the scorer reads it: positive steps (oldest first) and dismissed products."""

    positions: np.ndarray  # int64 catalog positions, oldest first, one per step
    weights: np.ndarray  # float32 event-type weight of each step
    dismissed: np.ndarray  # int64 catalog positions the shopper dismissed (deduplicated)
    unknown: tuple[str, ...] = ()  # product ids not in the catalog (ignored)

    @property
    def empty(self) -> bool:
        return len(self.positions) == 0


def split_history(
    interactions: Iterable[Interaction], position_of: Mapping[str, int], weights: EventWeights
) -> History:
    """Encode one shopper's interactions (any order; sorted by time here) for scoring."""
    ordered = sorted(interactions, key=lambda i: i.timestamp_ms)
    steps: list[int] = []
    step_weights: list[float] = []
    dismissed: dict[int, None] = {}
    unknown: dict[str, None] = {}
    for interaction in ordered:
        position = position_of.get(interaction.product_id)
        if position is None:
            unknown[interaction.product_id] = None
            continue
        if interaction.type is EventType.dismiss:
            dismissed[position] = None
            continue
        weight = weights.of(interaction)
        if weight <= 0:
            continue
        if steps and steps[-1] == position:  # one product's funnel is one step
            step_weights[-1] = max(step_weights[-1], weight)
            continue
        steps.append(position)
        step_weights.append(weight)
    return History(
        positions=np.asarray(steps, dtype=np.int64),
        weights=np.asarray(step_weights, dtype=np.float32),
        dismissed=np.fromiter(dismissed, dtype=np.int64, count=len(dismissed)),
        unknown=tuple(unknown),
    )


@dataclass(frozen=True)
class Corpus:
    """Every shopper's positive steps, concatenated: ``item[ptr[s]:ptr[s+1]]`` is shopper ``s``'s sequence."""

    size: int  # products in the catalog (the item space)
    ptr: np.ndarray  # int64, shoppers + 1
    item: np.ndarray  # int32 catalog positions
    weight: np.ndarray  # float32 event-type weights
    time_ms: np.ndarray  # int64 (0 when the log has no times)

    @property
    def shoppers(self) -> int:
        return len(self.ptr) - 1

    @property
    def steps(self) -> int:
        return len(self.item)

    @property
    def latest_ms(self) -> int:
        return int(self.time_ms.max()) if len(self.time_ms) else 0

    def sequence_of_step(self) -> np.ndarray:
        """For each step, the index of the shopper it belongs to."""
        return np.repeat(np.arange(self.shoppers, dtype=np.int64), np.diff(self.ptr))

    def digest(self, *extra: object) -> str:
        """A hash of the data (and of ``extra``, e.g. the model's parameters): the persisted model's key."""
        h = hashlib.sha256()
        h.update(f"{self.size}|{self.shoppers}|{self.steps}|".encode())
        for array in (self.ptr, self.item, self.weight, self.time_ms):
            h.update(np.ascontiguousarray(array).tobytes())
        for value in extra:
            h.update(repr(asdict(value) if hasattr(value, "__dataclass_fields__") else value).encode())
        return h.hexdigest()[:16]

    def popularity(self) -> np.ndarray:
        """Event-weighted count of each product (float64, catalog order)."""
        return np.bincount(self.item, weights=self.weight, minlength=self.size)


def encode(
    sequences: Iterable[ShopperSequence], position_of: Mapping[str, int], size: int, weights: EventWeights
) -> Corpus:
    """Encode shoppers' sequences over the catalog positions ``position_of`` (``size`` products)."""
    ptr = [0]
    items: list[np.ndarray] = []
    step_weights: list[np.ndarray] = []
    times: list[np.ndarray] = []
    for sequence in sequences:
        steps: list[int] = []
        ws: list[float] = []
        ts: list[int] = []
        for interaction in sorted(sequence.interactions, key=lambda i: i.timestamp_ms):
            position = position_of.get(interaction.product_id)
            if position is None:
                continue
            weight = weights.of(interaction)
            if weight <= 0:
                continue
            if steps and steps[-1] == position:
                ws[-1] = max(ws[-1], weight)
                ts[-1] = interaction.timestamp_ms
                continue
            steps.append(position)
            ws.append(weight)
            ts.append(interaction.timestamp_ms)
        if not steps:
            continue
        items.append(np.asarray(steps, dtype=np.int32))
        step_weights.append(np.asarray(ws, dtype=np.float32))
        times.append(np.asarray(ts, dtype=np.int64))
        ptr.append(ptr[-1] + len(steps))
    return Corpus(
        size=size,
        ptr=np.asarray(ptr, dtype=np.int64),
        item=np.concatenate(items) if items else np.empty(0, dtype=np.int32),
        weight=np.concatenate(step_weights) if step_weights else np.empty(0, dtype=np.float32),
        time_ms=np.concatenate(times) if times else np.empty(0, dtype=np.int64),
    )


def from_position_lists(lists: Sequence[Sequence[int]], size: int) -> Corpus:
    """A corpus of purchase-only sequences given as catalog positions (evaluation data; no times)."""
    lengths = np.fromiter((len(s) for s in lists), dtype=np.int64, count=len(lists))
    keep = lengths > 0
    item = (
        np.concatenate([np.asarray(s, dtype=np.int32) for s in lists if len(s)])
        if keep.any()
        else np.empty(0, dtype=np.int32)
    )
    return Corpus(
        size=size,
        ptr=np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64),
        item=item,
        weight=np.ones(len(item), dtype=np.float32),
        time_ms=np.zeros(len(item), dtype=np.int64),
    )
