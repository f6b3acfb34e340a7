"""Keeping the shared model current: periodic rebuilds in the background, not incremental updates.

A shopper's *own* new event counts at once: the history is read from the event store on every
request, so a purchase changes the next answer without touching the model. What a rebuild adds is
what *other* shoppers did (new co-occurrences, new popularity). Rebuilding Beauty's 198k
interactions takes about a second (docs/quality.md), while an exact incremental update is not
cheap: a new pair changes the popularity normalization of every entry in two rows and columns and
can push a neighbour out of a product's kept top-k, so "incremental" would mean approximate. So a
worker rebuilds from the :class:`~service.personalize.contract.SequenceSource` after
``rebuild_events`` accepted events, at most every ``min_interval_s``, in a background thread, and
swaps the new model in with one reference assignment (readers never see half a model). Several
workers reading the same log build the same key and share it through the persisted directory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from service.personalize.blend import Blend
from service.personalize.contract import Affinity, Interaction

log = logging.getLogger(__name__)


class Refreshing:
    """A :class:`~service.personalize.contract.Recommender` that rebuilds its model as events arrive."""

    def __init__(
        self,
        model: Blend,
        rebuild: Callable[[], Blend],
        *,
        rebuild_events: int,
        min_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self._rebuild = rebuild
        self._every = rebuild_events
        self._min_interval = min_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._pending = 0
        self._last = clock()
        self._running: threading.Thread | None = None
        self.rebuilds = 0

    def rerank(self, history: Sequence[Interaction], candidate_ids: Sequence[str]) -> dict[str, Affinity]:
        return self.model.rerank(history, candidate_ids)

    def for_you(
        self,
        history: Sequence[Interaction],
        k: int,
        *,
        category: str | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> list[Affinity]:
        return self.model.for_you(history, k, category=category, exclude=exclude)

    def observe(self, user_key: str, interaction: Interaction) -> None:
        """Count an accepted event; start a background rebuild when enough arrived and enough time passed."""
        if self._every <= 0:
            return
        with self._lock:
            self._pending += 1
            due = self._pending >= self._every and self._clock() - self._last >= self._min_interval
            if not due or (self._running is not None and self._running.is_alive()):
                return
            self._pending = 0
            self._last = self._clock()
            self._running = threading.Thread(target=self._run, name="personalize-rebuild", daemon=True)
            self._running.start()

    def refresh(self) -> None:
        """Rebuild now, in this thread (``shopguide personalize build``, tests)."""
        self._run()

    def wait(self, timeout: float | None = None) -> None:
        thread = self._running
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            model = self._rebuild()
        except Exception:  # a failed rebuild keeps the current model serving
            log.exception("rebuilding the personalization model failed; the previous model keeps serving")
            return
        self.model = model
        self.rebuilds += 1
        log.info("personalization model rebuilt in %.2f s (%s)", time.perf_counter() - started, model.version)
