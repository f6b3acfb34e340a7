"""Where copy jobs live: their spec, product list and per-product results (Redis, or memory without Redis).

A job's results are a hash keyed by product id, written with ``HSETNX``: the
first result for a product wins and any later one (a chunk run twice after a
worker died) is ignored, so every product ends with exactly one result.
Progress is derived from the sizes of the result and failure hashes.

Redis keys (``<prefix>`` is ``SHOPGUIDE_CACHE_PREFIX``), all expiring after
:data:`JOB_TTL_S`::

    <prefix>:copyjob:<id>            hash   spec (JSON), started_at
    <prefix>:copyjob:<id>:ids        list   product ids, in order; chunk i is a slice
    <prefix>:copyjob:<id>:results    hash   product id -> CopyRecord JSON
    <prefix>:copyjob:<id>:failed     hash   product id -> 1 (failed results)
    <prefix>:copyjob:<id>:chunks     hash   chunk -> generation (bumped on each re-enqueue)
    <prefix>:copyjob:<id>:done_chunks set   chunks whose products all have a result
    <prefix>:copyjob:<id>:lease:<i>  string the worker holding chunk i (short TTL, refreshed)
    <prefix>:copyjob:<id>:products   hash   product id -> Product JSON (jobs of uploaded products only)
    <prefix>:copyjobs:active         set    jobs not yet complete nor cancelled (what sweepers look at)
    <prefix>:copyjobs:index          zset   every job by creation time (listing, newest first)
    <prefix>:copyjobs:owner:<name>   zset   one API key's jobs by creation time

A cancelled job has ``cancelled_at`` in its hash: its queued chunks are dropped and
running ones stop before their next product; results already written are kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson
import redis

JOB_TTL_S = 7 * 86400
_BATCH = 500

Backend = Literal["rq", "thread"]


@dataclass(frozen=True)
class JobSpec:
    """What a job is: its options, size and chunking; immutable once created."""

    job_id: str
    options: dict[str, Any]
    total: int
    chunk_size: int
    created_at: float
    catalog_version: str
    backend: Backend
    owner: str | None = None  # the API key's name that created it (None: created in open mode)
    source: str = "catalog"  # catalog: product ids of the catalog; upload: products stored with the job

    @property
    def chunks(self) -> int:
        return -(-self.total // self.chunk_size)

    def chunk_range(self, chunk: int) -> tuple[int, int]:
        start = chunk * self.chunk_size
        return start, min(self.total, start + self.chunk_size)

    def to_json(self) -> bytes:
        return orjson.dumps(self.__dict__)

    @classmethod
    def from_json(cls, data: bytes | str) -> JobSpec:
        return cls(**orjson.loads(data))


@dataclass(frozen=True)
class Progress:
    done: int
    failed: int
    started: bool
    started_at: float | None = None
    cancelled_at: float | None = None


class JobStore(Protocol):
    def create(self, spec: JobSpec, product_ids: Sequence[str]) -> None: ...

    def spec(self, job_id: str) -> JobSpec | None: ...

    def chunk_ids(self, spec: JobSpec, chunk: int) -> list[str]: ...

    def missing(self, job_id: str, product_ids: Sequence[str]) -> list[str]:
        """The ids among ``product_ids`` that have no result yet, in order."""
        ...

    def record(self, job_id: str, product_id: str, line: bytes, *, failed: bool) -> bool:
        """Store the product's result unless it has one; True when this one was stored."""
        ...

    def mark_started(self, job_id: str) -> None: ...

    def mark_chunk_done(self, job_id: str, chunk: int) -> None:
        """Every product of the chunk has a result (sweepers skip it from now on)."""
        ...

    def progress(self, job_id: str) -> Progress: ...

    def results(self, spec: JobSpec) -> Iterator[bytes]:
        """The stored results in the job's product order (products without one yet are skipped)."""
        ...

    def add_products(self, job_id: str, products: Sequence[tuple[str, bytes]]) -> None:
        """Store uploaded products (id, Product JSON) with the job."""
        ...

    def product(self, job_id: str, product_id: str) -> bytes | None:
        """An uploaded product's JSON, None for a catalog job's product."""
        ...

    def cancel(self, job_id: str) -> bool:
        """Mark the job cancelled; False when it already was."""
        ...

    def resume(self, job_id: str) -> bool:
        """Clear the cancel mark; False when it was not cancelled."""
        ...

    def cancelled(self, job_id: str) -> bool: ...

    def job_ids(self, owner: str | None, *, limit: int, offset: int) -> tuple[int, list[str]]:
        """(how many, a page of job ids newest first) of one owner, or of everyone for ``owner=None``."""
        ...


def _owner_tag(owner: str | None) -> str:
    return owner if owner else "-"


class RedisJobStore:
    """Jobs in Redis, shared by the API processes and every ``shopguide worker``."""

    _RECORD = """
local stored = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if stored == 1 then
  if ARGV[3] == '1' then
    redis.call('HSET', KEYS[2], ARGV[1], 1)
    redis.call('EXPIRE', KEYS[2], ARGV[4])
  end
  if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
end
return stored
"""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._record = client.register_script(self._RECORD)

    # -- keys --------------------------------------------------------------------------------
    def key(self, job_id: str, part: str = "") -> str:
        return f"{self.prefix}:copyjob:{job_id}" + (f":{part}" if part else "")

    @property
    def active_key(self) -> str:
        return f"{self.prefix}:copyjobs:active"

    # -- JobStore ----------------------------------------------------------------------------
    def create(self, spec: JobSpec, product_ids: Sequence[str]) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.key(spec.job_id), mapping={"spec": spec.to_json()})
        for start in range(0, len(product_ids), _BATCH):
            pipe.rpush(self.key(spec.job_id, "ids"), *product_ids[start : start + _BATCH])
        pipe.hset(self.key(spec.job_id, "chunks"), mapping={str(i): 0 for i in range(spec.chunks)})
        for part in ("", "ids", "chunks"):
            pipe.expire(self.key(spec.job_id, part), JOB_TTL_S)
        pipe.sadd(self.active_key, spec.job_id)
        for index in (self.index_key(None), self.index_key(_owner_tag(spec.owner))):
            pipe.zadd(index, {spec.job_id: spec.created_at})
            pipe.expire(index, JOB_TTL_S)
        pipe.execute()

    def index_key(self, owner: str | None) -> str:
        """All jobs (``owner=None``) or one owner's."""
        return f"{self.prefix}:copyjobs:index" if owner is None else f"{self.prefix}:copyjobs:owner:{owner}"

    def add_products(self, job_id: str, products: Sequence[tuple[str, bytes]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for start in range(0, len(products), _BATCH):
            pipe.hset(self.key(job_id, "products"), mapping=dict(products[start : start + _BATCH]))
        pipe.expire(self.key(job_id, "products"), JOB_TTL_S)
        pipe.execute()

    def product(self, job_id: str, product_id: str) -> bytes | None:
        return self.client.hget(self.key(job_id, "products"), product_id)  # type: ignore[return-value]

    def cancel(self, job_id: str) -> bool:
        pipe = self.client.pipeline(transaction=True)
        pipe.hsetnx(self.key(job_id), "cancelled_at", repr(time.time()))
        pipe.srem(self.active_key, job_id)
        stored, _ = pipe.execute()
        return bool(stored)

    def resume(self, job_id: str) -> bool:
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self.key(job_id), "cancelled_at")
        pipe.sadd(self.active_key, job_id)
        removed, _ = pipe.execute()
        return bool(removed)

    def cancelled(self, job_id: str) -> bool:
        return bool(self.client.hexists(self.key(job_id), "cancelled_at"))

    def job_ids(self, owner: str | None, *, limit: int, offset: int) -> tuple[int, list[str]]:
        key = self.index_key(None if owner is None else _owner_tag(owner))
        # Jobs expire on their own; forget index entries older than a job can live.
        self.client.zremrangebyscore(key, "-inf", time.time() - JOB_TTL_S)
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(key)
        pipe.zrevrange(key, offset, offset + limit - 1)
        total, ids = pipe.execute()
        return int(total), [v.decode() for v in ids]

    def spec(self, job_id: str) -> JobSpec | None:
        raw = self.client.hget(self.key(job_id), "spec")
        return JobSpec.from_json(raw) if raw else None  # type: ignore[arg-type]

    def chunk_ids(self, spec: JobSpec, chunk: int) -> list[str]:
        start, end = spec.chunk_range(chunk)
        return [v.decode() for v in self.client.lrange(self.key(spec.job_id, "ids"), start, end - 1)]  # type: ignore[union-attr]

    def missing(self, job_id: str, product_ids: Sequence[str]) -> list[str]:
        if not product_ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for pid in product_ids:
            pipe.hexists(self.key(job_id, "results"), pid)
        return [pid for pid, present in zip(product_ids, pipe.execute(), strict=True) if not present]

    def record(self, job_id: str, product_id: str, line: bytes, *, failed: bool) -> bool:
        keys = [self.key(job_id, "results"), self.key(job_id, "failed")]
        return bool(self._record(keys=keys, args=[product_id, line, "1" if failed else "0", JOB_TTL_S]))

    def mark_started(self, job_id: str) -> None:
        self.client.hsetnx(self.key(job_id), "started_at", repr(time.time()))

    def mark_chunk_done(self, job_id: str, chunk: int) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.sadd(self.key(job_id, "done_chunks"), chunk)
        pipe.expire(self.key(job_id, "done_chunks"), JOB_TTL_S)
        pipe.execute()

    def done_chunks(self, job_id: str) -> set[int]:
        return {int(v) for v in self.client.smembers(self.key(job_id, "done_chunks"))}  # type: ignore[union-attr]

    def progress(self, job_id: str) -> Progress:
        pipe = self.client.pipeline(transaction=False)
        pipe.hlen(self.key(job_id, "results"))
        pipe.hlen(self.key(job_id, "failed"))
        pipe.hmget(self.key(job_id), ["started_at", "cancelled_at"])
        done, failed, (started_at, cancelled_at) = pipe.execute()
        return Progress(
            int(done),
            int(failed),
            bool(started_at) or int(done) > 0,
            float(started_at) if started_at else None,
            float(cancelled_at) if cancelled_at else None,
        )

    def results(self, spec: JobSpec) -> Iterator[bytes]:
        for start in range(0, spec.total, _BATCH):
            ids = self.client.lrange(self.key(spec.job_id, "ids"), start, start + _BATCH - 1)
            if not ids:
                return
            for value in self.client.hmget(self.key(spec.job_id, "results"), ids):  # type: ignore[arg-type]
                if value is not None:
                    yield value  # type: ignore[misc]

    # -- chunk bookkeeping (used by the RQ dispatcher) -------------------------------------------------
    def deactivate(self, job_id: str) -> None:
        self.client.srem(self.active_key, job_id)

    def active_jobs(self) -> list[str]:
        return sorted(v.decode() for v in self.client.smembers(self.active_key))  # type: ignore[union-attr]


@dataclass
class _MemoryJob:
    spec: JobSpec
    ids: list[str]
    results: dict[str, bytes] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    started: float | None = None
    cancelled: float | None = None
    products: dict[str, bytes] = field(default_factory=dict)


class MemoryJobStore:
    """Jobs in this process only (no Redis): they run on its threads and end with it."""

    def __init__(self) -> None:
        self._jobs: dict[str, _MemoryJob] = {}
        self._lock = threading.Lock()

    def create(self, spec: JobSpec, product_ids: Sequence[str]) -> None:
        with self._lock:
            self._jobs[spec.job_id] = _MemoryJob(spec, list(product_ids))

    def spec(self, job_id: str) -> JobSpec | None:
        job = self._jobs.get(job_id)
        return job.spec if job else None

    def chunk_ids(self, spec: JobSpec, chunk: int) -> list[str]:
        start, end = spec.chunk_range(chunk)
        return self._jobs[spec.job_id].ids[start:end]

    def missing(self, job_id: str, product_ids: Sequence[str]) -> list[str]:
        job = self._jobs[job_id]
        with self._lock:
            return [pid for pid in product_ids if pid not in job.results]

    def record(self, job_id: str, product_id: str, line: bytes, *, failed: bool) -> bool:
        job = self._jobs[job_id]
        with self._lock:
            if product_id in job.results:
                return False
            job.results[product_id] = line
            if failed:
                job.failed.add(product_id)
            return True

    def mark_started(self, job_id: str) -> None:
        job = self._jobs[job_id]
        if job.started is None:
            job.started = time.time()

    def mark_chunk_done(self, job_id: str, chunk: int) -> None:
        return None  # nothing sweeps in-process jobs

    def progress(self, job_id: str) -> Progress:
        job = self._jobs[job_id]
        with self._lock:
            return Progress(
                len(job.results), len(job.failed), job.started is not None or bool(job.results), job.started, job.cancelled
            )

    def results(self, spec: JobSpec) -> Iterator[bytes]:
        job = self._jobs[spec.job_id]
        for pid in job.ids:
            with self._lock:
                line = job.results.get(pid)
            if line is not None:
                yield line

    def add_products(self, job_id: str, products: Sequence[tuple[str, bytes]]) -> None:
        with self._lock:
            self._jobs[job_id].products.update(products)

    def product(self, job_id: str, product_id: str) -> bytes | None:
        return self._jobs[job_id].products.get(product_id)

    def cancel(self, job_id: str) -> bool:
        job = self._jobs[job_id]
        with self._lock:
            if job.cancelled is not None:
                return False
            job.cancelled = time.time()
            return True

    def resume(self, job_id: str) -> bool:
        job = self._jobs[job_id]
        with self._lock:
            was, job.cancelled = job.cancelled, None
            return was is not None

    def cancelled(self, job_id: str) -> bool:
        job = self._jobs.get(job_id)
        return job is not None and job.cancelled is not None

    def job_ids(self, owner: str | None, *, limit: int, offset: int) -> tuple[int, list[str]]:
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: j.spec.created_at, reverse=True)
        if owner is not None:
            tag = _owner_tag(owner)
            jobs = [j for j in jobs if _owner_tag(j.spec.owner) == tag]
        return len(jobs), [j.spec.job_id for j in jobs[offset : offset + limit]]
