"""Copy jobs as the API sees them: create, progress, results."""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import redis

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.errors import ClientError, NotFound, ServiceUnavailable
from service.jobs.store import Backend, JobSpec, JobStore
from service.respond.copy import CopyJobStatus, JobState
from service.validate.copy import CopyJobRequest

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 1.0  # a status poll sweeps its job at most this often (per process)
RETRY_AFTER_S = 5  # what a 503 tells the client while Redis is down (the request path's Redis cool-down)


@contextlib.contextmanager
def _redis_answers() -> Iterator[None]:
    """A Redis that is down or hangs (the client times out fast) is a 503 to retry, not a 500."""
    try:
        yield
    except redis.RedisError as exc:
        log.warning("copy jobs: Redis failed: %s", type(exc).__name__)
        raise ServiceUnavailable(
            "copy jobs are unavailable: Redis did not answer; retry later", retry_after=RETRY_AFTER_S
        ) from None


class Dispatcher(Protocol):
    backend: Backend

    def submit(self, spec: JobSpec) -> None: ...

    def sweep(self, job_id: str | None = None) -> int: ...

    def cancel(self, spec: JobSpec) -> int: ...

    def resume(self, spec: JobSpec) -> int: ...

    def workers(self) -> int | None: ...


class TooManyJobs(ClientError):
    status = 429
    code = "too_many_jobs"


class JobState409(ClientError):
    status = 409
    code = "conflict"


@dataclass(frozen=True)
class Viewer:
    """Who asks about jobs: an API key's name (None in open mode) and whether it has the ops scope.

    A job is visible to the key that created it and to ops keys; in open mode to everyone.
    """

    name: str | None
    ops: bool

    @classmethod
    def everyone(cls) -> Viewer:
        return cls(None, True)

    def sees(self, spec: JobSpec) -> bool:
        return self.ops or (self.name is not None and spec.owner == self.name)


class CopyJobs:
    """Creates jobs for catalog products and reports on them; the dispatcher runs them."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        store: JobStore,
        dispatcher: Dispatcher,
        chunk_size: int,
        max_jobs_per_key: int = 10,
        max_products_per_key: int = 100_000,
        queue: str = "",
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._dispatcher = dispatcher
        self._chunk_size = chunk_size
        self._max_jobs = max_jobs_per_key
        self._max_products = max_products_per_key
        self.queue = queue
        self._swept: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def backend(self) -> Backend:
        return self._dispatcher.backend

    def create(
        self, request: CopyJobRequest, owner: str | None = None, *, products: list[Product] | None = None
    ) -> JobSpec:
        """Store and dispatch a job for catalog products, or for ``products`` (an upload) stored with it.

        :raises NotFound: naming the first product id that is not in the catalog.
        :raises TooManyJobs: the owner would pass its limit of unfinished jobs or waiting products.
        """
        if products is not None:
            ids = [p.id for p in products]
        elif request.product_ids == "all":
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
            owner=owner,
            source="catalog" if products is None else "upload",
        )
        with _redis_answers():
            self._check_limits(owner, len(ids))
            self._store.create(spec, ids)
            if products is not None:
                self._store.add_products(spec.job_id, [(p.id, p.model_dump_json().encode()) for p in products])
            self._dispatcher.submit(spec)
        return spec

    def _check_limits(self, owner: str | None, adding: int) -> None:
        """Unfinished jobs and their waiting products of one key, against the limits (a scan of its newest jobs)."""
        if owner is None:  # open mode has no keys to count against
            return
        _, ids = self._store.job_ids(owner, limit=self._max_jobs + 50, offset=0)
        unfinished = waiting = 0
        for job_id in ids:
            spec = self._store.spec(job_id)
            if spec is None or self._store.cancelled(job_id):
                continue
            done = self._store.progress(job_id).done
            if done < spec.total:
                unfinished += 1
                waiting += spec.total - done
        if unfinished >= self._max_jobs:
            raise TooManyJobs(
                f"this API key has {unfinished} unfinished copy jobs (the limit is {self._max_jobs}, "
                "SHOPGUIDE_COPY_JOBS_PER_KEY); wait for one to finish or cancel one"
            )
        if waiting + adding > self._max_products:
            raise TooManyJobs(
                f"product_ids: this API key has {waiting} products waiting in copy jobs and asked for {adding} more "
                f"(the limit is {self._max_products}, SHOPGUIDE_COPY_JOB_PRODUCTS_PER_KEY)",
                field="product_ids",
            )

    def _spec(self, job_id: str, viewer: Viewer | None = None) -> JobSpec:
        with _redis_answers():
            spec = self._store.spec(job_id) if job_id.isalnum() else None
        if spec is not None and viewer is not None and not viewer.sees(spec):
            spec = None  # another key's job: as if it did not exist (ids are not secrets to guard with a 403)
        if spec is None:
            hint = (
                " (without REDIS_URL a job lives in the server process that created it: set REDIS_URL, or serve "
                "with SHOPGUIDE_WORKERS=1)"
                if self._dispatcher.backend == "thread"
                else ""
            )
            raise NotFound(f"no copy job {job_id!r}{hint}", field="job_id")
        return spec

    def status(self, job_id: str, viewer: Viewer | None = None) -> CopyJobStatus:
        """Progress; polling it also re-enqueues chunks whose worker died.

        :raises NotFound: unknown or expired job, or one ``viewer`` may not see.
        """
        spec = self._spec(job_id, viewer)
        return self._status(spec, workers=self._workers())

    def _status(self, spec: JobSpec, *, workers: int | None, sweep: bool = True) -> CopyJobStatus:
        job_id = spec.job_id
        with _redis_answers():
            progress = self._store.progress(job_id)
        cancelled = progress.cancelled_at is not None
        if sweep and not cancelled and progress.done < spec.total and self._due(job_id):
            try:
                self._dispatcher.sweep(job_id)
            except Exception:  # a status read must not fail because a sweep did; workers sweep too
                log.exception("sweeping copy job %s failed", job_id)
        state: JobState
        if progress.done >= spec.total:
            state = "completed"
        elif cancelled:
            state = "cancelled"
        else:
            state = "running" if progress.started else "queued"
        waiting = state in ("queued", "running") and workers == 0
        rate = eta = None
        if progress.started_at and progress.done:
            elapsed = max(1e-3, time.time() - progress.started_at)
            rate = round(progress.done / elapsed, 3)
            eta = round((spec.total - progress.done) / rate, 1) if state == "running" else None
        message = None
        if waiting:
            message = f"waiting for a worker: no `shopguide worker` is running on queue {self.queue}"
        elif state == "cancelled":
            message = "cancelled: finished results are kept; resume to write the rest"
        return CopyJobStatus(
            job_id=job_id,
            state=state,
            total=spec.total,
            done=progress.done,
            failed=progress.failed,
            created_at=spec.created_at,
            started_at=progress.started_at,
            cancelled_at=progress.cancelled_at,
            rate_per_s=rate,
            eta_s=eta,
            backend=spec.backend,
            workers=workers,
            waiting_for_worker=waiting,
            message=message,
            source=spec.source,
            options=spec.options,
        )

    def _workers(self) -> int | None:
        try:
            return self._dispatcher.workers()
        except redis.RedisError:
            return None

    def workers(self) -> int | None:
        """Live ``shopguide worker`` processes (None: jobs run in this process)."""
        return self._workers()

    def describe(self) -> dict[str, object]:
        """Backend, workers and queued chunks, for /readyz and the ops view."""
        queued = getattr(self._dispatcher, "queued_chunks", None)
        try:
            depth = queued() if queued else None
        except redis.RedisError:
            depth = None
        workers = self._workers()
        return {
            "backend": self.backend,
            "queue": self.queue or None,
            "workers": workers,
            "queued_chunks": depth,
            "waiting_for_worker": workers == 0 and bool(depth),
        }

    def list(self, viewer: Viewer, *, limit: int = 20, offset: int = 0) -> tuple[int, list[CopyJobStatus]]:
        """(how many, one page) of the jobs ``viewer`` may see, newest first."""
        owner = None if viewer.ops else (viewer.name or "")
        workers = self._workers()
        with _redis_answers():
            total, ids = self._store.job_ids(owner, limit=limit, offset=offset)
            specs = [spec for spec in (self._store.spec(i) for i in ids) if spec is not None]
        return total, [self._status(spec, workers=workers, sweep=False) for spec in specs]

    def cancel(self, job_id: str, viewer: Viewer | None = None) -> CopyJobStatus:
        """Cancel: queued chunks are dropped, running ones stop before their next product, results are kept.

        :raises NotFound: unknown or invisible job.
        :raises JobState409: the job has completed.
        """
        spec = self._spec(job_id, viewer)
        with _redis_answers():
            if self._store.progress(job_id).done >= spec.total:
                raise JobState409("the job has completed: there is nothing left to cancel")
            if self._store.cancel(job_id):
                dropped = self._dispatcher.cancel(spec)
                log.info("copy job %s cancelled; %d queued chunks dropped", job_id, dropped)
        return self._status(spec, workers=self._workers(), sweep=False)

    def resume(self, job_id: str, viewer: Viewer | None = None) -> CopyJobStatus:
        """Resume a cancelled job: the products without a result are written.

        :raises NotFound: unknown or invisible job.
        :raises JobState409: the job is not cancelled.
        """
        spec = self._spec(job_id, viewer)
        with _redis_answers():
            if not self._store.cancelled(job_id):
                raise JobState409("the job is not cancelled: only a cancelled job can be resumed")
            self._check_limits(spec.owner, spec.total - self._store.progress(job_id).done)
            if self._store.resume(job_id):
                self._dispatcher.resume(spec)
        return self._status(spec, workers=self._workers(), sweep=False)

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

    def product(self, job_id: str, product_id: str, viewer: Viewer | None = None) -> Product | None:
        """A product uploaded with the job (None for catalog jobs and unknown ids).

        :raises NotFound: unknown or invisible job.
        """
        spec = self._spec(job_id, viewer)
        if spec.source != "upload":
            return None
        with _redis_answers():
            raw = self._store.product(job_id, product_id)
        return Product.model_validate_json(raw) if raw else None

    def results(self, job_id: str, viewer: Viewer | None = None) -> tuple[JobSpec, Iterator[bytes]]:
        """The job and its results so far (JSON lines of CopyRecord), in product order.

        :raises NotFound: unknown or expired job, or one ``viewer`` may not see.
        """
        spec = self._spec(job_id, viewer)
        lines = self._store.results(spec)
        with _redis_answers():  # the first read decides the status: a 503, not a 200 cut off at once
            first = list(itertools.islice(lines, 1))
        return spec, itertools.chain(first, _until_redis_fails(lines))

    def health(self) -> dict[str, object]:
        """For /readyz: the job backend, whether it answers (Redis, for RQ), live workers and queued chunks."""
        client = getattr(self._store, "client", None)
        if client is None:
            return {**self.describe(), "ok": True}
        try:
            client.ping()
        except redis.RedisError as exc:
            return {"backend": self.backend, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {**self.describe(), "ok": True}


def _until_redis_fails(lines: Iterator[bytes]) -> Iterator[bytes]:
    """A results stream that ends (logged) where Redis fails mid-way; the response has already begun."""
    try:
        yield from lines
    except redis.RedisError as exc:
        log.warning("copy job results cut short: Redis failed: %s", type(exc).__name__)

