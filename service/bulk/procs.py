"""Bulk copy across several processes, so a run uses every core.

One Python process tops out near 100 upstream calls a second through the openai
SDK on a small machine: building requests and parsing responses holds the GIL.
Here the parent feeds product ids to child processes and collects their
records (it alone writes the output file); each child builds its own copy
pipeline from the same settings and runs ``threads`` threads. A 429 seen by any
child pauses them all (:class:`ProcessPauseBoard`); each child adapts its own
share of the concurrency. Children ignore SIGINT: the parent decides when to stop.

Children die with their parent: on Linux the kernel kills a child the moment its parent dies
(``prctl(PR_SET_PDEATHSIG, SIGKILL)``), elsewhere a watchdog thread notices within a fraction of a
second. A SIGKILLed ``shopguide copy`` used to leave both children alive for 77 s+, stuck on the
results pipe, making 126 upstream calls nobody would read (issue 13 item 8).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from service.bulk.factory import bulk_pipeline
from service.bulk.limiter import AdaptiveLimiter, ProcessPauseBoard
from service.bulk.records import Finished, finished, write_record
from service.bulk.throttle import throttled_chain
from service.catalog.load import Catalog
from service.ops.metrics import Metrics
from service.settings import Settings
from service.validate.copy import CopyOptions

log = logging.getLogger(__name__)
_POLL_S = 0.2
_PR_SET_PDEATHSIG = 1


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_POLL_S)
    os._exit(1)


def die_with_parent(parent: int) -> str:
    """Make this process end when ``parent`` does; returns how (``pdeathsig`` or ``watchdog``)."""
    how = "watchdog"
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
                how = "pdeathsig"
        except (OSError, AttributeError):
            pass
    if how == "watchdog":
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent:  # the parent died before the kernel was told
        os._exit(1)
    return how


def _child(
    parent: int,
    settings: Settings,
    catalog: Catalog,
    options: CopyOptions,
    threads: int,
    concurrency: int,
    tasks: Any,
    results: Any,
    stop: Any,
    paused_until: Any,
    pauses: Any,
) -> None:
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    metrics = Metrics()
    limiter = AdaptiveLimiter(concurrency, board=ProcessPauseBoard(paused_until, pauses))
    pipeline = bulk_pipeline(settings, catalog, throttled_chain(settings, metrics, limiter, stop=stop), metrics)

    def work() -> None:
        while True:
            try:
                product_id = tasks.get(timeout=_POLL_S)
            except queue.Empty:
                if os.getppid() != parent:  # the parent was killed: do not linger as an orphan
                    return
                continue
            if product_id is None:
                return
            if stop.is_set():
                continue  # drain what is queued without starting it
            results.put(tuple(finished(write_record(pipeline, catalog.by_id[product_id], options))))

    pool = [threading.Thread(target=work, name=f"bulk-{i}") for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if os.getppid() == parent:
        results.put(None)


class ProcessRunner:
    """Writes copy for product ids on ``processes`` child processes of ``threads`` threads each."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        options: CopyOptions,
        *,
        processes: int,
        concurrency: int,
        stop: threading.Event,
    ) -> None:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        self._ctx = multiprocessing.get_context(method)
        self._processes = processes
        share = max(1, -(-concurrency // processes))  # ceil: upstream calls in flight per child
        self._threads = 2 * share  # threads beyond the slots prepare the next products while calls are in flight
        self._args = (settings, catalog, options, self._threads, share)
        self._stop = stop
        self._tasks: Any = self._ctx.Queue(maxsize=2 * self._threads * processes)
        self._results: Any = self._ctx.Queue()
        self._child_stop = self._ctx.Event()
        self._paused_until = self._ctx.Value("d", 0.0)
        self._pauses = self._ctx.Value("i", 0)
        self.board = ProcessPauseBoard(self._paused_until, self._pauses)
        self._children: list[Any] = []

    def start(self) -> None:
        """Start the children (before any other thread of the parent, so forking is safe)."""
        for i in range(self._processes):
            child = self._ctx.Process(
                target=_child,
                args=(os.getpid(), *self._args, self._tasks, self._results, self._child_stop, self._paused_until, self._pauses),
                name=f"shopguide-copy-{i}",
                daemon=True,
            )
            child.start()
            self._children.append(child)

    def _feed(self, product_ids: Sequence[str]) -> None:
        for product_id in product_ids:
            while not self._stop.is_set():
                try:
                    self._tasks.put(product_id, timeout=_POLL_S)
                    break
                except queue.Full:
                    continue
            if self._stop.is_set():
                break
        for _ in range(self._processes * self._threads):
            self._tasks.put(None)

    def records(self, product_ids: Sequence[str]) -> Iterator[Finished]:
        """Every finished product's record, in completion order; ends when every child is done."""
        feeder = threading.Thread(target=self._feed, args=(product_ids,), name="bulk-feeder", daemon=True)
        feeder.start()
        running = {child.pid for child in self._children}
        finished = 0
        try:
            while finished < len(self._children):
                if self._stop.is_set():
                    self._child_stop.set()
                try:
                    item = self._results.get(timeout=_POLL_S)
                except queue.Empty:
                    dead = [c for c in self._children if c.pid in running and c.exitcode not in (None, 0)]
                    for child in dead:  # a crashed child: its products in flight are redone on the next run
                        log.error("copy worker process %s died (exit %s)", child.pid, child.exitcode)
                        running.discard(child.pid)
                        finished += 1
                    continue
                if item is None:
                    finished += 1
                    continue
                yield Finished(*item)
        finally:
            self._child_stop.set()
            for child in self._children:
                child.join(timeout=1)
                if child.is_alive():
                    child.terminate()
