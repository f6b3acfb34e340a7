"""One chunk of a copy job: every product in it without a result gets exactly one."""

from __future__ import annotations

import logging
import threading

from service.bulk.records import write_record
from service.bulk.runner import run_bounded
from service.catalog.product import Product
from service.errors import NotFound
from service.jobs.store import JobStore
from service.pipeline.copy import CopyPipeline
from service.respond.copy import CopyRecord
from service.validate.copy import CopyOptions

log = logging.getLogger(__name__)


class ChunkWorker:
    """Writes a chunk's products through the copy pipeline on ``concurrency`` threads."""

    def __init__(
        self, pipeline: CopyPipeline, store: JobStore, *, concurrency: int, stop: threading.Event | None = None
    ) -> None:
        self._pipeline = pipeline
        self._store = store
        self._concurrency = concurrency
        self._stop = stop or threading.Event()

    @property
    def store(self) -> JobStore:
        return self._store

    def run_chunk(self, job_id: str, chunk: int) -> int:
        """Write the chunk's products that lack a result; returns how many results this call stored.

        Products another run already finished are skipped; if two runs race on one
        product, the store keeps the first result.

        :raises NotFound: the job does not exist (expired or never created).
        """
        spec = self._store.spec(job_id)
        if spec is None:
            raise NotFound(f"copy job {job_id} not found")
        if spec.catalog_version != self._pipeline.catalog.version:
            log.warning(
                "copy job %s was created for catalog %s; this worker has %s",
                job_id, spec.catalog_version, self._pipeline.catalog.version,
            )
        if self._store.cancelled(job_id):
            return 0  # a chunk taken before the cancel dropped it
        self._store.mark_started(job_id)
        options = CopyOptions.model_validate(spec.options)
        ids = self._store.chunk_ids(spec, chunk)
        todo = self._store.missing(job_id, ids)
        catalog = self._pipeline.catalog

        def one(product_id: str) -> CopyRecord | None:
            if self._store.cancelled(job_id):
                return None  # cancelled while this chunk ran: the product stays without a result
            product = catalog.get(product_id) if spec.source == "catalog" else _uploaded(self._store, job_id, product_id)
            if product is None:
                return CopyRecord.failure(product_id, "product not in this worker's catalog")
            return write_record(self._pipeline, product, options)

        stored = 0
        for product_id, record in run_bounded(one, todo, concurrency=self._concurrency, stop=self._stop):
            if record is None:
                continue
            if self._stop.is_set() and record.status == "failed":
                continue  # cut short by a shutdown: the chunk is picked up again
            stored += self._store.record(
                job_id, product_id, record.model_dump_json().encode(), failed=record.status == "failed"
            )
        if not self._store.missing(job_id, ids):
            self._store.mark_chunk_done(job_id, chunk)
        return stored


def _uploaded(store: JobStore, job_id: str, product_id: str) -> Product | None:
    raw = store.product(job_id, product_id)
    return Product.model_validate_json(raw) if raw else None
