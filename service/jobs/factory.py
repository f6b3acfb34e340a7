"""Copy jobs from settings: RQ over Redis when ``REDIS_URL`` is set, else a thread pool in this process."""

from __future__ import annotations

import redis

from service.bulk.limiter import AdaptiveLimiter
from service.bulk.throttle import throttle
from service.jobs.inline import ThreadDispatcher
from service.jobs.rq_backend import RQDispatcher, queue_name
from service.jobs.service import CopyJobs, Dispatcher
from service.jobs.store import JobStore, MemoryJobStore, RedisJobStore
from service.jobs.work import ChunkWorker
from service.pipeline.copy import CopyPipeline
from service.settings import Settings


def build_copy_jobs(settings: Settings, pipeline: CopyPipeline, client: redis.Redis | None) -> CopyJobs:
    """The job service the API uses; with Redis, ``shopguide worker`` processes run the chunks.

    ``client`` is the app's one Redis client (:func:`service.cache.store.redis_client`, fail-fast
    timeouts), None without ``REDIS_URL``: a job request never stalls on a Redis that hangs.
    """
    store: JobStore
    dispatcher: Dispatcher
    if client is not None:
        redis_store = RedisJobStore(client, settings.cache_prefix)
        store, dispatcher = redis_store, RQDispatcher(client, redis_store)
    else:
        store = MemoryJobStore()
        limiter = AdaptiveLimiter(settings.copy_concurrency)
        bulk = pipeline.with_chain(throttle(pipeline.chain, limiter))
        dispatcher = ThreadDispatcher(ChunkWorker(bulk, store, concurrency=settings.copy_concurrency))
    return CopyJobs(
        catalog=pipeline.catalog,
        store=store,
        dispatcher=dispatcher,
        chunk_size=settings.copy_job_chunk_size,
        max_jobs_per_key=settings.copy_jobs_per_key,
        max_products_per_key=settings.copy_job_products_per_key,
        queue=queue_name(settings.cache_prefix) if client is not None else "",
    )
