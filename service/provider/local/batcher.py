"""A bounded queue in front of one worker thread that runs waiting requests as batches.

Only the worker touches the model, so generate calls never compete for the
device. A full queue refuses at once (the provider chain moves on), a request
whose deadline passes while it waits is dropped with an error, and requests
waiting together with the same batch key are run as one batch.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from service.errors import ProviderError, ProviderUnavailable, ShopguideError

log = logging.getLogger(__name__)

P = TypeVar("P")
R = TypeVar("R")

@dataclass(eq=False)
class Job(Generic[P, R]):
    """One queued request; its future resolves to the worker's result or error."""

    payload: P
    deadline: float  # time.monotonic()
    key: Hashable
    future: Future[R] = field(default_factory=Future)
    enqueued: float = field(default_factory=time.monotonic)


class Batcher(Generic[P, R]):
    """Bounded queue + one worker thread calling ``run_batch`` with up to ``max_batch_size`` payloads."""

    def __init__(
        self,
        run_batch: Callable[[Sequence[P]], Sequence[R | BaseException]],
        *,
        max_batch_size: int,
        max_queue: int,
        batch_window_s: float = 0.0,
        provider: str = "local",
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch_size < 1 or max_queue < 1:
            raise ValueError("max_batch_size and max_queue must be at least 1")
        self._run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        self._window = batch_window_s
        self._provider = provider
        self._on_depth = on_depth
        self._queue: deque[Job[P, R]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._owner_pid = 0
        self.running = 0  # size of the batch being generated now
        self.batches = 0
        self.batch_sizes: list[int] = []  # recent batch sizes, newest last (bounded)
        self.batch_seconds: list[float] = []  # how long recent batches took, newest last (bounded)

    @property
    def queue_depth(self) -> int:
        """Requests waiting (not counting the batch being generated)."""
        with self._cond:
            return len(self._queue)

    def submit(self, payload: P, *, deadline: float, key: Hashable = None) -> Job[P, R]:
        """Queue ``payload``; the returned job's future resolves when its batch has run.

        :raises ProviderUnavailable: when the queue is full or the batcher is closed.
        """
        job: Job[P, R] = Job(payload=payload, deadline=deadline, key=key)
        with self._cond:
            if self._closed:
                raise ProviderUnavailable("local model queue is closed", provider=self._provider)
            if len(self._queue) >= self.max_queue:
                raise ProviderUnavailable(
                    f"local model queue full ({self.max_queue} waiting)", provider=self._provider
                )
            self._ensure_worker()
            self._queue.append(job)
            depth = len(self._queue)
            self._cond.notify_all()
        self._report(depth)
        return job

    def wait(self, job: Job[P, R]) -> R:
        """The job's result, waiting no longer than its deadline.

        :raises ProviderUnavailable: when the deadline passes while the job is still queued.
        :raises ProviderError: the worker's error for this job, or the deadline passing mid-generation.
        """
        try:
            return job.future.result(timeout=max(0.0, job.deadline - time.monotonic()))
        except TimeoutError:
            pass
        if job.future.cancel():  # still queued: take it out so it never runs
            with self._cond:
                try:
                    self._queue.remove(job)
                except ValueError:
                    pass
                depth = len(self._queue)
            self._report(depth)
            raise ProviderUnavailable(
                f"deadline passed after {time.monotonic() - job.enqueued:.1f}s waiting for the local model",
                provider=self._provider,
            ) from None
        # Running: the generator stops this row at its deadline, so the result follows shortly.
        try:
            return job.future.result(timeout=5.0)
        except TimeoutError:
            raise ProviderError("local generation overran the deadline", provider=self._provider) from None

    def cancel(self, job: Job[P, R]) -> bool:
        """Take a job nobody waits for out of the queue; False when it is already running or done."""
        if not job.future.cancel():
            return False
        with self._cond:
            try:
                self._queue.remove(job)
            except ValueError:
                pass
            depth = len(self._queue)
        self._report(depth)
        return True

    def estimated_wait_s(self) -> float:
        """Roughly how long a request queued now would wait: batches ahead of it times the recent batch time."""
        recent = self.batch_seconds[-10:]
        per_batch = sum(recent) / len(recent) if recent else 1.0
        with self._cond:
            ahead = len(self._queue) + (1 if self.running else 0)
        return per_batch * max(1.0, ahead / self.max_batch_size)

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop the worker; waiting jobs fail with :class:`ProviderUnavailable`."""
        with self._cond:
            self._closed = True
            pending = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
            thread = self._thread
        for job in pending:
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(ProviderUnavailable("local model shut down", provider=self._provider))
        self._report(0)
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)

    # -- worker ------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        """Start the worker on first use, and again in a forked child (threads do not survive fork)."""
        if self._thread is not None and self._thread.is_alive() and self._owner_pid == os.getpid():
            return
        self._owner_pid = os.getpid()
        self._thread = threading.Thread(target=self._work, name=f"{self._provider}-generate", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                if self._window > 0 and len(self._queue) < self.max_batch_size:
                    # Give concurrent requests a moment to arrive and share this batch.
                    self._cond.wait_for(lambda: len(self._queue) >= self.max_batch_size or self._closed, self._window)
                batch = self._take_batch()
                depth = len(self._queue)
                self.running = len(batch)
            self._report(depth)
            if batch:
                self._run(batch)
            with self._cond:
                self.running = 0

    def _take_batch(self) -> list[Job[P, R]]:
        """The oldest live job plus later live jobs with its key; expired and cancelled jobs are dropped."""
        now = time.monotonic()
        batch: list[Job[P, R]] = []
        kept: deque[Job[P, R]] = deque()
        while self._queue:
            job = self._queue.popleft()
            if job.future.cancelled():
                continue
            fits = len(batch) < self.max_batch_size and (not batch or job.key == batch[0].key)
            if not fits:
                kept.append(job)
                continue
            if not job.future.set_running_or_notify_cancel():
                continue
            if job.deadline <= now:
                job.future.set_exception(
                    ProviderUnavailable(
                        f"deadline passed after {now - job.enqueued:.1f}s in the local model queue",
                        provider=self._provider,
                    )
                )
                continue
            batch.append(job)
        self._queue = kept
        return batch

    def _run(self, batch: list[Job[P, R]]) -> None:
        self.batches += 1
        self.batch_sizes = (self.batch_sizes + [len(batch)])[-100:]
        started = time.monotonic()
        try:
            results = list(self._run_batch([job.payload for job in batch]))
            if len(results) != len(batch):
                raise ProviderError(
                    f"batch returned {len(results)} results for {len(batch)} requests", provider=self._provider
                )
        except Exception as exc:  # the worker must survive anything a batch does
            error = exc if isinstance(exc, ShopguideError) else ProviderError(
                f"local batch failed: {type(exc).__name__}: {exc}", provider=self._provider
            )
            if not isinstance(exc, ShopguideError):
                log.exception("local batch failed")
            results = [error] * len(batch)
        self.batch_seconds = (self.batch_seconds + [time.monotonic() - started])[-100:]
        for job, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, ShopguideError):
                    result = ProviderError(f"{type(result).__name__}: {result}", provider=self._provider)
                job.future.set_exception(result)
            else:
                job.future.set_result(result)

    def _report(self, depth: int) -> None:
        if self._on_depth is not None:
            self._on_depth(depth)
