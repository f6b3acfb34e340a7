"""How many of each provider's recent answers broke the output contract.

A provider can answer every call and still be useless: an upstream returning garbage made 94 %
of answers degraded while its breaker stayed closed (an invalid answer says nothing about the
transport, so it does not count against the breaker) and ``/readyz`` looked healthy (issue 13
item 7). Every answer the pipelines parse is recorded here, valid or not, per provider, over the
last ``window`` answers of this process; ``/readyz`` shows the share and calls the provider
``failing`` above ``ratio`` (once at least ``min_answers`` are in), and
``shopguide_provider_invalid_share`` exports it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class AnswerQuality:
    def __init__(
        self,
        window: int = 50,
        ratio: float = 0.5,
        *,
        min_answers: int = 10,
        on_share: Callable[[str, float], None] | None = None,
    ) -> None:
        self.window = window
        self.ratio = ratio
        self.min_answers = min(min_answers, window)
        self._on_share = on_share
        self._recent: dict[str, deque[bool]] = {}
        self._lock = threading.Lock()

    def record(self, provider: str, valid: bool) -> None:
        with self._lock:
            recent = self._recent.setdefault(provider, deque(maxlen=self.window))
            recent.append(valid)
            share = recent.count(False) / len(recent)
        if self._on_share:
            self._on_share(provider, share)

    def describe(self, provider: str) -> dict[str, Any]:
        with self._lock:
            recent = list(self._recent.get(provider, ()))
        invalid = recent.count(False)
        share = invalid / len(recent) if recent else 0.0
        failing = len(recent) >= self.min_answers and share > self.ratio
        return {"recent": len(recent), "invalid": invalid, "invalid_share": round(share, 3), "failing": failing}
