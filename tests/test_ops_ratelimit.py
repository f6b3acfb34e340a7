"""service/ops/ratelimit.py: the limiter itself, per scope and client, in memory."""

from __future__ import annotations

import time
import uuid

import pytest


# -- the limiter itself ---------------------------------------------------------------------------
def test_limiter_counts_per_scope_and_client() -> None:
    from service.ops.ratelimit import RateLimiter

    limiter = RateLimiter({"recommend": "2/second;3/minute", "ops": "off"})
    assert limiter.backend == "memory"
    assert [limiter.check("recommend", "key:a") for _ in range(2)] == [None, None]
    wait = limiter.check("recommend", "key:a")
    assert wait is not None and 1 <= wait <= 1  # the per-second window is the one breached
    assert limiter.check("recommend", "key:b") is None
    assert all(limiter.check("ops", "key:a") is None for _ in range(10))
    assert limiter.check("copy", "key:a") is None  # a scope without a limit


def test_memory_limiter_starts_no_threads_and_sweeps_expired_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from service.ops.ratelimit import RateLimiter, _SweepingMemoryStorage

    limiter = RateLimiter({"recommend": "1000/second"})  # (limits' constructor starts one timer; cancelled)
    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(self))
    deadline = time.monotonic() + 0.1
    while time.monotonic() < deadline:  # well past limits' 10 ms timer period
        limiter.check("recommend", f"ip:{uuid.uuid4().hex}")
    assert started == []
    monkeypatch.setattr(_SweepingMemoryStorage, "SWEEP_EVERY_S", 0.0)
    storage = limiter._memory.storage
    assert storage.storage
    time.sleep(1.1)  # every one-second window has expired
    limiter.check("recommend", "ip:last")
    assert list(storage.storage) == [next(iter(storage.storage))]  # only the new counter is left
