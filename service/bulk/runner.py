"""Run a function over many items on a bounded thread pool, stoppable, yielding results as they finish."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_POLL_S = 0.2


def run_bounded(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    concurrency: int,
    stop: threading.Event,
) -> Iterator[tuple[T, R]]:
    """``fn`` over ``items`` on ``concurrency`` threads; yields ``(item, result)`` in completion order.

    Items are taken from ``items`` lazily (at most twice ``concurrency`` ahead), so
    a huge catalog is never queued at once. Once ``stop`` is set nothing new
    starts: queued items are cancelled, running ones finish and are yielded.
    ``fn`` should not raise; if it does, the exception propagates here.
    """
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bulk")
    source = iter(items)
    pending: dict[Future[R], T] = {}

    def fill() -> None:
        while not stop.is_set() and len(pending) < 2 * concurrency:
            try:
                item = next(source)
            except StopIteration:
                return
            pending[pool.submit(fn, item)] = item

    try:
        fill()
        while pending:
            if stop.is_set():
                for future in pending:
                    future.cancel()
            done, _ = wait(pending, timeout=_POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                item = pending.pop(future)
                if not future.cancelled():
                    yield item, future.result()
            fill()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
