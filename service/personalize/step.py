"""The personalize step of /v1/recommend, between retrieval and the prompt: a shopper's history → :class:`Signals`.

- With a query: retrieval's candidates (a wider pool) re-ranked by the shopper's affinity, then cut to
  the number the model sees; dismissed products always left out, purchased ones unless the request
  says ``include_purchased``.
- Without a query ("for you"): candidates from the recommender (item-to-item, content, popularity),
  held to every filter as retrieval's are.

History comes from the event store (``user.id``) and the request (``user.recent_product_ids``). When
the store is unreachable the request is answered without its stored history (``Shopper.available``
false; /readyz shows the store). What reaches the prompt is :func:`prompt_history`: titles only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from service.catalog.load import Catalog
from service.events.keys import UserKeys
from service.events.store import EventStore, EventStoreUnavailable, ShopperState
from service.personalize.contract import Affinity, EventType, Interaction, Recommender, Signals
from service.retrieve.base import Candidate, Retriever
from service.retrieve.filters import passes
from service.settings import Settings
from service.validate.recommend import Filters, RecommendRequest

log = logging.getLogger(__name__)

_PAST_TENSE = {
    EventType.purchase: "bought",
    EventType.add_to_cart: "added to cart",
    EventType.rating: "rated",
    EventType.click: "viewed",
    EventType.view: "viewed",
}
_NOT_PERSONAL = ("popular", "trending")


@dataclass(frozen=True)
class Shopper:
    """Who a request is for, as personalization sees them."""

    user_key: str | None  # the keyed hash of user.id (never the id)
    history: tuple[Interaction, ...]  # oldest first: the store's, then the request's recent_product_ids
    excluded: frozenset[str]
    available: bool = True  # False when the store could not be read

    @property
    def personal(self) -> bool:
        return bool(self.history or self.excluded)


NOBODY = Shopper(None, (), frozenset())


@dataclass(frozen=True)
class PromptHistory:
    """The history the prompt shows: its entries, and the number each listed product has there."""

    entries: list[dict[str, Any]]
    numbers: dict[str, int]


NO_HISTORY = PromptHistory([], {})


class Personalizer:
    """Reads a shopper's history and turns it into candidates and :class:`Signals` for one request."""

    def __init__(
        self,
        *,
        settings: Settings,
        catalog: Catalog,
        retriever: Retriever,
        store: EventStore,
        recommender: Recommender,
        keys: UserKeys,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._retriever = retriever
        self.store = store
        self.recommender = recommender
        self.keys = keys
        self._mask = _mask_of(retriever)

    # -- who -----------------------------------------------------------------------------------
    def shopper(self, request: RecommendRequest) -> Shopper:
        user = request.user
        if user is None or not (user.id or user.recent_product_ids):
            return NOBODY
        user_key = self.keys.user(user.id) if user.id else None
        state, available = ShopperState(), True
        if user_key is not None:
            try:
                state = self.store.state(user_key, self._settings.personalize_history)
            except EventStoreUnavailable:
                available = False  # answered without the stored history; the store logged why
        history = list(state.history)
        known = self._catalog.by_id
        # recent_product_ids: most recent first, as a storefront lists them; they count as views, after the store's
        last = history[-1].timestamp_ms if history else 0
        for offset, pid in enumerate(reversed(user.recent_product_ids), start=1):
            if pid in known:
                history.append(Interaction(pid, EventType.view, last + offset))
        history = [i for i in history if i.product_id in known][-self._settings.personalize_history :]
        excluded = set(state.dismissed)
        if not user.include_purchased:
            excluded |= state.purchased
        return Shopper(user_key, tuple(history), frozenset(excluded), available)

    # -- with a query ----------------------------------------------------------------------------
    def rerank(self, shopper: Shopper, candidates: Sequence[Candidate], n: int) -> tuple[list[Candidate], Signals]:
        """The top ``n`` of ``candidates`` by relevance and affinity, exclusions left out."""
        kept = [c for c in candidates if c.product.id not in shopper.excluded]
        if not shopper.personal:
            return kept[:n], Signals()
        affinities = self.recommender.rerank(shopper.history, [c.product.id for c in kept]) if shopper.history else {}
        weight = self._settings.personalize_weight
        if affinities and weight > 0:
            # Relevance and affinity each scaled by their strongest value, then summed: an affinity below
            # zero (like what the shopper dismissed) weighs a candidate down. When no affinity is positive
            # the strongest negative one sets the scale (dividing by a negative maximum would turn every
            # penalty into a boost).
            top_score = max((c.score for c in kept), default=0.0) or 1.0
            top_affinity = max(a.score for a in affinities.values())
            if top_affinity <= 0:
                top_affinity = max(abs(a.score) for a in affinities.values()) or 1.0
            shift = weight / top_affinity
            keys = [
                -(c.score / top_score + (shift * a.score if (a := affinities.get(c.product.id)) is not None else 0.0))
                for c in kept
            ]
            kept = [kept[i] for i in sorted(range(len(kept)), key=keys.__getitem__)]  # stable: ties keep retrieval order
        return kept[:n], self._signals(shopper, affinities)

    # -- without a query --------------------------------------------------------------------------
    def for_you(self, shopper: Shopper, filters: Filters, n: int) -> tuple[list[Candidate], Signals]:
        """Up to ``n`` candidates for the shopper from the recommender, every one passing ``filters``."""
        want = max(n, self._settings.personalize_pool)
        picked: list[Affinity] = []
        for ask in (want, want * 4):
            found = self.recommender.for_you(
                shopper.history, ask, category=filters.category, exclude=shopper.excluded
            )
            picked = self._passing(found, filters)
            if len(picked) >= n or len(found) < ask:
                break
        picked = picked[:n]
        if len(picked) < n:  # nothing speaks for enough products yet (a new shop): the catalog's, in its order
            picked += self._catalog_fill(shopper, filters, n - len(picked), {a.product_id for a in picked})
        by_id = self._catalog.by_id
        candidates = [Candidate(product=by_id[a.product_id], score=a.score) for a in picked]
        affinities = {a.product_id: a for a in picked if a.source not in _NOT_PERSONAL}
        return candidates, self._signals(shopper, affinities)

    def _catalog_fill(self, shopper: Shopper, filters: Filters, n: int, have: set[str]) -> list[Affinity]:
        seen = have | shopper.excluded | {i.product_id for i in shopper.history}
        out: list[Affinity] = []
        for product in self._catalog.products:
            if product.id in seen or not passes(product, filters):
                continue
            out.append(Affinity(product.id, 0.0, (), "popular"))
            if len(out) == n * 2:
                break
        return self._passing(out, filters)[:n]

    def _passing(self, found: Sequence[Affinity], filters: Filters) -> list[Affinity]:
        by_id = self._catalog.by_id
        allowed = [a for a in found if a.product_id in by_id and passes(by_id[a.product_id], filters)]
        if filters.exclude_terms and allowed:
            allow = self._mask(filters, [a.product_id for a in allowed])
            allowed = [a for a in allowed if a.product_id in allow]
        return allowed

    def _signals(self, shopper: Shopper, affinities: dict[str, Affinity]) -> Signals:
        if not shopper.personal:
            return Signals()
        used = [[i.product_id, i.type.value, i.value] for i in shopper.history]
        blob = orjson.dumps({"history": used, "excluded": sorted(shopper.excluded)})
        return Signals(affinities, shopper.excluded, hashlib.sha256(blob).hexdigest()[:24])

    # -- what the prompt and the answer get -------------------------------------------------------
    def prompt_history(self, shopper: Shopper) -> PromptHistory:
        """The shopper's most recent distinct products as ``{"n", "title", "action"}``: titles only, never ids;
        ``n`` numbers them so a candidate can point at the ones it resembles (:meth:`related`)."""
        limit = self._settings.personalize_prompt_history
        entries: list[dict[str, Any]] = []
        numbers: dict[str, int] = {}
        for interaction in reversed(shopper.history):
            if len(entries) == limit:
                break
            action = _PAST_TENSE.get(interaction.type)
            if action is None or interaction.product_id in numbers:
                continue
            product = self._catalog.by_id.get(interaction.product_id)
            if product is not None:
                numbers[product.id] = len(entries) + 1
                entries.append({"n": len(entries) + 1, "title": product.title, "action": action})
        return PromptHistory(entries, numbers)

    @staticmethod
    def related(signals: Signals, history: PromptHistory, product_id: str, limit: int = 2) -> list[int]:
        """The numbers of the prompt's history products that speak for ``product_id`` (what its reason may cite).

        Numbers, not titles: twenty candidates citing two history titles each repeated up to forty titles
        (a thousand tokens or more) of the shopper's history in every prompt. A history product older than
        the ones the prompt lists is not cited: the prompt's history is all of it a provider sees.
        """
        affinity = signals.affinities.get(product_id)
        if affinity is None:
            return []
        return [history.numbers[pid] for pid in affinity.because if pid in history.numbers][:limit]


def annotate(items: list[dict], signals: Signals) -> list[dict]:
    """Each answer item with ``personalized`` and ``because`` (history product ids), from ``signals``."""
    for item in items:
        affinity = signals.affinities.get(item["id"])
        personal = affinity is not None and affinity.score > 0 and affinity.source not in _NOT_PERSONAL
        item["personalized"] = personal
        item["because"] = list(affinity.because) if personal and affinity is not None else []
    return items


def _mask_of(retriever: Retriever) -> Callable[[Filters, Collection[str]], set[str]]:
    """The ids among some that pass every filter, ruled-out phrases included (they need the lexical analyzer)."""
    lexical = getattr(retriever, "lexical", retriever)
    mask = getattr(lexical, "mask", None)
    products = getattr(lexical, "products", None)
    if mask is None or products is None:
        return lambda filters, ids: set(ids)  # a retriever without an analyzer: passes() is all there is

    def allow(filters: Filters, ids: Collection[str]) -> set[str]:
        keep = mask(filters, ids)
        if keep is None:
            return set(ids)
        return {products[pos].id for pos in np.flatnonzero(keep)}

    return allow
