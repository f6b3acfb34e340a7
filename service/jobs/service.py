"""Copy jobs as the API sees them: create, progress, results."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Protocol

import redis

from service.catalog.load import Catalog
from service.errors import NotFound, ServiceUnavailable
from service.jobs.store import Backend, JobSpec, JobStore
from service.respond.copy import CopyJobStatus, JobState
from service.validate.copy import CopyJobRequest

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 1.0  # a status poll sweeps its job at most this often (per process)


@contextlib.contextmanager
def _redis_answers() -> Iterator[None]:
    """A Redis that is down or hangs (the client times out fast) is a 503 to retry, not a 500."""
    try:
        yield
    except redis.RedisError as exc:
        log.warning("copy jobs: Redis failed: %s", type(exc).__name__)
        raise ServiceUnavailable("copy jobs are unavailable: Redis did not answer; retry later") from None


class Dispatcher(Protocol):
    backend: Backend

    def submit(self, spec: JobSpec) -> None: ...

    def sweep(self, job_id: str | None = None) -> int: ...


class CopyJobs:
    """Creates jobs for catalog products and reports on them; the dispatcher runs them."""

    def __init__(self, *, catalog: Catalog, store: JobStore, dispatcher: Dispatcher, chunk_size: int) -> None:
        self._catalog = catalog
        self._store = store
        self._dispatcher = dispatcher
        self._chunk_size = chunk_size
        self._swept: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def backend(self) -> Backend:
        return self._dispatcher.backend

    def create(self, request: CopyJobRequest) -> JobSpec:
        """Store and dispatch a job.

        :raises NotFound: naming the first product id that is not in the catalog.
        """
        if request.product_ids == "all":
            ids = [p.id for p in self._catalog.products]
        else:
            ids = list(dict.fromkeys(request.product_ids))
            for i, pid in enumerate(request.product_ids):
                if self._catalog.get(pid) is None:
                    raise NotFound(f"product_ids[{i}]: no product {pid!r} in the catalog", field=f"product_ids[{i}]")
        spec = JobSpec(
            job_id=uuid.uuid4().hex,
            options=request.options().model_dump(mode="json"),
            total=len(ids),
            chunk_size=self._chunk_size,
            created_at=time.time(),
            catalog_version=self._catalog.version,
            backend=self._dispatcher.backend,
        )
        with _redis_answers():
            self._store.create(spec, ids)
            self._dispatcher.submit(spec)
        return spec

    def _spec(self, job_id: str) -> JobSpec:
        with _redis_answers():
            spec = self._store.spec(job_id) if job_id.isalnum() else None
        if spec is None:
            hint = (
                " (without REDIS_URL a job lives in the server process that created it: set REDIS_URL, or serve "
                "with SHOPGUIDE_WORKERS=1)"
                if self._dispatcher.backend == "thread"
                else ""
            )
            raise NotFound(f"no copy job {job_id!r}{hint}", field="job_id")
        return spec

    def status(self, job_id: str) -> CopyJobStatus:
        """Progress; polling it also re-enqueues chunks whose worker died.

        :raises NotFound: unknown or expired job.
        """
        spec = self._spec(job_id)
        with _redis_answers():
            progress = self._store.progress(job_id)
        if progress.done < spec.total and self._due(job_id):
            try:
                self._dispatcher.sweep(job_id)
            except Exception:  # a status read must not fail because a sweep did; workers sweep too
                log.exception("sweeping copy job %s failed", job_id)
        state: JobState = "completed" if progress.done >= spec.total else "running" if progress.started else "queued"
        return CopyJobStatus(
            job_id=job_id,
            state=state,
            total=spec.total,
            done=progress.done,
            failed=progress.failed,
            created_at=spec.created_at,
            backend=spec.backend,
            options=spec.options,
        )

    def _due(self, job_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._swept.get(job_id, -SWEEP_EVERY_S) < SWEEP_EVERY_S:
                return False
            if len(self._swept) > 1000:
                self._swept.clear()
            self._swept[job_id] = now
            return True

    def close(self) -> None:
        """Stop running in-process chunks (tests, shutdown); queued RQ chunks are untouched."""
        close = getattr(self._dispatcher, "close", None)
        if close is not None:
            close()

    def results(self, job_id: str) -> tuple[JobSpec, Iterator[bytes]]:
        """The job and its results so far (JSON lines of CopyRecord), in product order.

        :raises NotFound: unknown or expired job.
        """
        spec = self._spec(job_id)
        return spec, self._store.results(spec)

