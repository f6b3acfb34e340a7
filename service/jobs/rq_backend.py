"""Copy jobs on RQ: chunks as RQ jobs, leases that show a chunk is alive, and a sweeper that re-enqueues dead ones.

A job of N products is split into chunks of ``SHOPGUIDE_COPY_JOB_CHUNK_SIZE``;
each chunk is one RQ job that any ``shopguide worker`` on any machine may take.
Robustness, without trusting any one worker:

- **Exactly one result per product**: results are stored with ``HSETNX``
  (:mod:`service.jobs.store`); a chunk run twice skips finished products and
  cannot overwrite a result.
- **Liveness**: the worker running a chunk holds a lease key with a short TTL
  (``--lease``), refreshed by a heartbeat thread. A SIGKILLed worker (or a dead
  machine) stops refreshing and the lease expires within seconds, much sooner
  than RQ's own abandoned-job detection (which waits out the job's heartbeat TTL).
- **Sweeping**: every worker runs a sweeper thread, and ``GET
  /v1/copy/jobs/{id}`` sweeps that job too. A chunk that still lacks results,
  has no live lease, and whose RQ job is not waiting in the queue (finished,
  failed, missing, or "started" by a worker whose lease is gone) is enqueued
  again under its next generation. The generation bump is a compare-and-set in
  Redis, so concurrent sweepers enqueue it once.
- **Termination**: after :data:`MAX_GENERATIONS` runs, products still without a
  result get a failed result ("gave up"), so every job completes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from service.jobs.store import JobSpec, RedisJobStore
from service.jobs.work import ChunkWorker
from service.respond.copy import CopyRecord

log = logging.getLogger(__name__)

CHUNK_TASK = "service.jobs.rq_backend.run_chunk"
MAX_GENERATIONS = 5
DEFAULT_LEASE_S = 15.0
STARTED_GRACE_S = 10.0  # a chunk RQ marked started this recently may not have taken its lease yet
_WAITING = {JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED, JobStatus.CREATED, JobStatus.READY_TO_ENQUEUE}

_BUMP = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def run_chunk(job_id: str, chunk: int, generation: int) -> int:
    """The RQ task name of a chunk; it only runs inside ``shopguide worker``, which binds it to its pipeline.

    :raises RuntimeError: when a plain ``rq worker`` picks it up.
    """
    raise RuntimeError("copy chunks run on `shopguide worker`, not on a plain rq worker")


def queue_name(prefix: str) -> str:
    return f"{prefix}-copy"


def rq_job_id(prefix: str, job_id: str, chunk: int, generation: int) -> str:
    """``<prefix>-<job>-<chunk>-<generation>``: RQ allows letters, digits, ``_`` and ``-`` only."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', prefix)}-{job_id}-{chunk}-{generation}"


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Leases:
    """Short-lived keys that say "a live worker is on this chunk"; refreshed while held."""

    def __init__(self, store: RedisJobStore, *, ttl_s: float = DEFAULT_LEASE_S, holder: str | None = None) -> None:
        self._store = store
        self._ttl_ms = max(100, int(ttl_s * 1000))
        self.holder = holder or worker_identity()
        self._release = store.client.register_script(_RELEASE)

    def key(self, job_id: str, chunk: int) -> str:
        return self._store.key(job_id, f"lease:{chunk}")

    def alive(self, job_id: str, chunk: int) -> bool:
        return bool(self._store.client.exists(self.key(job_id, chunk)))

    @contextlib.contextmanager
    def hold(self, job_id: str, chunk: int) -> Iterator[None]:
        key = self.key(job_id, chunk)
        client = self._store.client
        client.set(key, self.holder, px=self._ttl_ms)
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(self._ttl_ms / 3000):
                try:
                    client.set(key, self.holder, px=self._ttl_ms)
                except redis.RedisError as exc:  # keep trying: a blip must not lose the lease for good
                    log.warning("lease refresh failed for %s: %s", key, exc)

        beat = threading.Thread(target=heartbeat, name=f"lease-{chunk}", daemon=True)
        beat.start()
        try:
            yield
        finally:
            done.set()
            beat.join(timeout=5)
            with contextlib.suppress(redis.RedisError):
                self._release(keys=[key], args=[self.holder])


def bound_job_class(worker: ChunkWorker, leases: Leases) -> type[Job]:
    """An RQ ``Job`` class whose chunk tasks run on ``worker`` under a lease (the worker's own pipeline)."""

    class CopyChunkJob(Job):
        def _execute(self) -> Any:
            if self.func_name != CHUNK_TASK:
                return super()._execute()
            job_id, chunk, _generation = self.args
            with leases.hold(job_id, chunk):
                return worker.run_chunk(job_id, chunk)

    return CopyChunkJob


class RQDispatcher:
    """Enqueues a job's chunks and re-enqueues the ones whose worker died."""

    backend = "rq"

    def __init__(
        self,
        connection: redis.Redis,
        store: RedisJobStore,
        *,
        chunk_timeout_s: int = 3600,
        started_grace_s: float = STARTED_GRACE_S,
        max_generations: int = MAX_GENERATIONS,
    ) -> None:
        self._connection = connection
        self._store = store
        self.queue = Queue(queue_name(store.prefix), connection=connection)
        self._chunk_timeout_s = chunk_timeout_s
        self._started_grace_s = started_grace_s
        self._max_generations = max_generations
        self._bump = store.client.register_script(_BUMP)
        self._leases = Leases(store)

    def submit(self, spec: JobSpec) -> None:
        for chunk in range(spec.chunks):
            self._enqueue(spec.job_id, chunk, 0)

    def _enqueue(self, job_id: str, chunk: int, generation: int) -> None:
        self.queue.enqueue(
            CHUNK_TASK,
            job_id,
            chunk,
            generation,
            job_id=rq_job_id(self._store.prefix, job_id, chunk, generation),
            job_timeout=self._chunk_timeout_s,
            result_ttl=3600,
            failure_ttl=86400,
            description=f"copy job {job_id} chunk {chunk} (run {generation + 1})",
        )

    def cancel(self, spec: JobSpec) -> int:
        """Drop the job's chunks still waiting in the queue; returns how many. Running ones stop on the cancel mark."""
        generations = self._generations(spec.job_id)
        dropped = 0
        for chunk in range(spec.chunks):
            rq_id = rq_job_id(self._store.prefix, spec.job_id, chunk, generations.get(chunk, 0))
            try:
                job = Job.fetch(rq_id, connection=self._connection)
            except NoSuchJobError:
                continue
            if job.get_status(refresh=False) in _WAITING:
                job.cancel()
                dropped += 1
        return dropped

    def resume(self, spec: JobSpec) -> int:
        """Enqueue, under their next generation, the chunks of a cancelled job that still lack results."""
        generations = self._generations(spec.job_id)
        done = self._store.done_chunks(spec.job_id)
        enqueued = 0
        for chunk in range(spec.chunks):
            if chunk in done or not self._store.missing(spec.job_id, self._store.chunk_ids(spec, chunk)):
                continue
            generation = generations.get(chunk, 0)
            if self._bump(keys=[self._store.key(spec.job_id, "chunks")], args=[chunk, generation, generation + 1]):
                self._enqueue(spec.job_id, chunk, generation + 1)
                enqueued += 1
        return enqueued

    def workers(self) -> int:
        """``shopguide worker`` processes alive on this queue: those whose beacon beat within :data:`BEACON_DEAD_S`.

        RQ's own registry keeps a SIGKILLed worker for its TTL (7 minutes by default), and a worker busy on a
        chunk sends RQ no heartbeat; the beacon is a thread of its own, so it says alive while a chunk runs.
        """
        key = beacon_key(self._store.prefix)
        now = time.time()
        self._connection.zremrangebyscore(key, "-inf", now - BEACON_DEAD_S)
        return int(self._connection.zcount(key, now - BEACON_DEAD_S, "+inf"))

    def queued_chunks(self) -> int:
        return self.queue.count

    def _generations(self, job_id: str) -> dict[int, int]:
        return {int(k): int(v) for k, v in self._store.client.hgetall(self._store.key(job_id, "chunks")).items()}

    def sweep(self, job_id: str | None = None) -> int:
        """Re-enqueue dead chunks of ``job_id`` (or of every active job); returns how many."""
        requeued = 0
        for jid in [job_id] if job_id else self._store.active_jobs():
            try:
                requeued += self._sweep_job(jid)
            except redis.RedisError as exc:
                log.warning("sweeping copy job %s failed: %s", jid, exc)
        return requeued

    def _sweep_job(self, job_id: str) -> int:
        spec = self._store.spec(job_id)
        if spec is None or self._store.progress(job_id).done >= spec.total:
            self._store.deactivate(job_id)
            return 0
        # Cheap filters first, so sweeping a 100k-product job costs a few round trips, not one per product:
        # chunks known to be done, chunks whose RQ job waits in the queue, chunks with a live lease.
        client = self._store.client
        generations = {int(k): int(v) for k, v in client.hgetall(self._store.key(job_id, "chunks")).items()}
        done = self._store.done_chunks(job_id)
        queued = set(self.queue.get_job_ids())
        candidates = [
            c for c in range(spec.chunks)
            if c not in done and rq_job_id(self._store.prefix, job_id, c, generations.get(c, 0)) not in queued
        ]
        pipe = client.pipeline(transaction=False)
        for chunk in candidates:
            pipe.exists(self._leases.key(job_id, chunk))
        leased = pipe.execute() if candidates else []
        requeued = 0
        for chunk, alive in zip(candidates, leased, strict=True):
            if alive:
                continue
            missing = self._store.missing(job_id, self._store.chunk_ids(spec, chunk))
            if not missing:
                self._store.mark_chunk_done(job_id, chunk)
                continue
            generation = generations.get(chunk, 0)
            if self._waiting(rq_job_id(self._store.prefix, job_id, chunk, generation)):
                continue
            if generation + 1 >= self._max_generations:
                for pid in missing:
                    record = CopyRecord.failure(pid, f"gave up after {generation + 1} runs of its chunk")
                    self._store.record(job_id, pid, record.model_dump_json().encode(), failed=True)
                self._store.mark_chunk_done(job_id, chunk)
                continue
            if self._bump(keys=[self._store.key(job_id, "chunks")], args=[chunk, generation, generation + 1]):
                log.warning("copy job %s chunk %d: no live worker; enqueued again (run %d)", job_id, chunk, generation + 2)
                self._enqueue(job_id, chunk, generation + 1)
                requeued += 1
        return requeued

    def _waiting(self, rq_id: str) -> bool:
        """Whether the chunk's current RQ job is queued, or started so recently that its lease may be coming."""
        try:
            job = Job.fetch(rq_id, connection=self._connection)
        except NoSuchJobError:
            return False
        except redis.RedisError:
            raise
        except Exception as exc:  # an unreadable RQ job (e.g. half written by a dying worker) is a lost one
            log.warning("copy chunk %s unreadable (%s); treating it as lost", rq_id, exc)
            return False
        status = job.get_status(refresh=False)
        if status in _WAITING:
            return True
        if status == JobStatus.STARTED and job.started_at is not None:
            return time.time() - job.started_at.timestamp() < self._started_grace_s
        return False


BEACON_EVERY_S = 3.0
BEACON_DEAD_S = 10.0  # a worker silent this long is counted as gone


def beacon_key(prefix: str) -> str:
    return f"{prefix}:copyworkers"


class Beacon:
    """A daemon thread that says "this worker is alive" every few seconds (a sorted set of last beats)."""

    def __init__(self, client: redis.Redis, prefix: str, name: str, every_s: float = BEACON_EVERY_S) -> None:
        self._client = client
        self._key = beacon_key(prefix)
        self.name = name
        self._every_s = every_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="copy-beacon", daemon=True)

    def start(self) -> Beacon:
        self._beat()
        self._thread.start()
        return self

    def _beat(self) -> None:
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.zadd(self._key, {self.name: time.time()})
            pipe.expire(self._key, int(BEACON_DEAD_S * 6))
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("worker beacon failed: %s", exc)

    def _loop(self) -> None:
        while not self._done.wait(self._every_s):
            self._beat()

    def stop(self) -> None:
        """Leave at once (a graceful exit), rather than after BEACON_DEAD_S."""
        self._done.set()
        with contextlib.suppress(redis.RedisError):
            self._client.zrem(self._key, self.name)


class Sweeper:
    """A daemon thread that sweeps every active job every ``interval_s``."""

    def __init__(self, dispatcher: RQDispatcher, interval_s: float) -> None:
        self._dispatcher = dispatcher
        self._interval_s = interval_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="copy-sweeper", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()

    def _loop(self) -> None:
        while not self._done.wait(self._interval_s):
            try:
                self._dispatcher.sweep()
            except Exception:  # never let one bad job stop the sweeping of the others
                log.exception("copy job sweep failed")
