"""How long a provider takes to answer, measured: a per-provider moving average the chain reads before a call.

The chain (:mod:`service.provider.chain`) skips a provider at once when its expected latency cannot fit the
time the request has left, instead of spending that time on a call that would time out (a local model on CPU
that needs 15 s, tried with 9 s left after a failing hosted upstream, cost the shopper the 9 s and answered
nothing).

- A successful call is a sample of its duration. The estimate is an exponentially weighted moving average
  (:data:`ALPHA` 0.3: the last few calls dominate, one outlier does not).
- A call that timed out (or ran into its deadline) took *at least* its duration: it counts as
  :data:`TIMEOUT_FACTOR` (1.5) times that duration, and never lowers the estimate.
- Calls that failed fast (connection refused, a 500, a 429) say nothing about answering time and are not
  samples: the circuit breaker handles those providers.
- A provider skipped for being too slow is not measured again, so after a while one call goes through anyway
  (a probe); its answer replaces the stale estimate, so a local model that became faster (a GPU, a smaller
  model, a cooler machine) is used again at once. The while is ``timeout_memory_s`` (default 30 s, the
  breaker's cool-down) when the estimate comes from a timeout, which may have been a passing hang rather
  than slowness, and ``probe_after_s`` (300 s) when it comes from slow answers. A provider that fits some
  requests (those with more time left) is measured on those, without probes.

State is per process: each gunicorn worker learns from its own calls, which is enough (a few calls).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

ALPHA = 0.3
TIMEOUT_FACTOR = 1.5
DEFAULT_PROBE_AFTER_S = 300.0
DEFAULT_TIMEOUT_MEMORY_S = 30.0


@dataclass
class LatencyEstimate:
    """One provider's expected answering time, in seconds (None until it has answered or timed out once)."""

    probe_after_s: float = DEFAULT_PROBE_AFTER_S
    timeout_memory_s: float = DEFAULT_TIMEOUT_MEMORY_S
    clock: object = field(default=time.monotonic, repr=False)
    _expected: float | None = field(default=None, init=False)
    _samples: int = field(default=0, init=False)
    _measured_at: float = field(default=0.0, init=False)
    _probing: bool = field(default=False, init=False)
    _from_timeout: bool = field(default=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def fresh(self) -> LatencyEstimate:
        """A new, unmeasured estimate with the same settings (for a chain whose calls are not comparable)."""
        return LatencyEstimate(self.probe_after_s, self.timeout_memory_s, self.clock)

    def _now(self) -> float:
        return self.clock()  # type: ignore[operator]

    def expected(self) -> float | None:
        with self._lock:
            return self._expected

    @property
    def samples(self) -> int:
        return self._samples

    def answered(self, seconds: float) -> None:
        """A call answered after ``seconds``."""
        with self._lock:
            if self._expected is None or self._probing:  # a probe's answer replaces an estimate gone stale
                self._expected = seconds
            else:
                self._expected = ALPHA * seconds + (1 - ALPHA) * self._expected
            self._probing = False
            self._from_timeout = False
            self._samples += 1
            self._measured_at = self._now()

    def timed_out(self, seconds: float) -> None:
        """A call gave up after ``seconds`` without an answer: it needs more than that."""
        bound = seconds * TIMEOUT_FACTOR
        with self._lock:
            blended = bound if self._expected is None else ALPHA * bound + (1 - ALPHA) * self._expected
            self._expected = max(blended, bound, self._expected or 0.0)
            self._from_timeout = True
            self._probing = False
            self._samples += 1
            self._measured_at = self._now()

    def fits(self, remaining_s: float) -> bool:
        """Whether a call is worth making with ``remaining_s`` left: no estimate yet, an estimate that fits, or a
        probe is due (the estimate is older than ``timeout_memory_s`` or ``probe_after_s``, see the module; the
        probe's call then refreshes it, and other requests keep skipping while it runs)."""
        with self._lock:
            if self._expected is None or self._expected <= remaining_s:
                return True
            now = self._now()
            wait = self.timeout_memory_s if self._from_timeout else self.probe_after_s
            if wait > 0 and now - self._measured_at >= wait:
                self._measured_at = now  # one probe per interval
                self._probing = True
                return True
            return False

    def describe(self) -> dict[str, object]:
        with self._lock:
            expected = self._expected
        return {"expected_s": None if expected is None else round(expected, 3), "samples": self._samples}
