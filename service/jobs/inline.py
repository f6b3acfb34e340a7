"""Copy jobs without Redis: chunks run on a thread pool of this process (they end with it)."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from service.jobs.store import JobSpec
from service.jobs.work import ChunkWorker

log = logging.getLogger(__name__)

CHUNKS_AT_ONCE = 2  # the next chunk starts while the last products of one finish


class ThreadDispatcher:
    """Runs every chunk of a job, in order, on a small pool; products inside a chunk run concurrently."""

    backend = "thread"

    def __init__(self, worker: ChunkWorker) -> None:
        self._worker = worker
        self._pool = ThreadPoolExecutor(max_workers=CHUNKS_AT_ONCE, thread_name_prefix="copy-job")

    def submit(self, spec: JobSpec) -> None:
        for chunk in range(spec.chunks):
            self._pool.submit(self._run, spec.job_id, chunk).add_done_callback(_log_failure)

    def _run(self, job_id: str, chunk: int) -> int:
        return self._worker.run_chunk(job_id, chunk)

    def sweep(self, job_id: str | None = None) -> int:
        return 0  # chunks cannot be lost while this process lives

    def cancel(self, spec: JobSpec) -> int:
        return 0  # queued chunks see the cancel mark and return at once; running ones stop before their next product

    def resume(self, spec: JobSpec) -> int:
        """Run every chunk again: products that have a result are skipped."""
        self.submit(spec)
        return spec.chunks

    def workers(self) -> int | None:
        return None  # chunks run in this process: there is no worker to wait for

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _log_failure(future: Future[int]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("copy job chunk failed", exc_info=future.exception())
