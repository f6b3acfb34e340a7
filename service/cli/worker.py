"""``shopguide worker``: run copy-job chunks from Redis (RQ); start as many as you like, on any machine.

Every worker loads the catalog and builds the copy pipeline once, then takes
chunks of copy jobs from the queue (``<SHOPGUIDE_CACHE_PREFIX>-copy``). A 429
from the upstream pauses every worker sharing the Redis. Each worker also
sweeps: chunks whose worker died are enqueued again (see
:mod:`service.jobs.rq_backend`). SIGTERM or Ctrl-C finishes the current chunk
and exits; a second one stops at once (the chunk is then picked up again).
"""

from __future__ import annotations

import argparse
import threading

import redis
from rq.worker import SimpleWorker

from service.bulk.factory import bulk_pipeline
from service.bulk.limiter import AdaptiveLimiter, RedisPauseBoard
from service.bulk.throttle import BULK_DEADLINE_S, throttled_chain
from service.catalog.load import load_catalog
from service.errors import ConfigError
from service.jobs.rq_backend import (
    DEFAULT_LEASE_S,
    Beacon,
    Leases,
    RQDispatcher,
    Sweeper,
    bound_job_class,
    queue_name,
)
from service.jobs.store import RedisJobStore
from service.jobs.work import ChunkWorker
from service.ops.logs import configure_logging, status_line
from service.ops.metrics import JobQueueCollector, Metrics
from service.ops.worker_health import WorkerHealth
from service.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("worker", help="run copy jobs from Redis (needs REDIS_URL); start one per core or machine")
    parser.add_argument("--concurrency", type=int, help="upstream calls in flight (default SHOPGUIDE_COPY_CONCURRENCY)")
    parser.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    parser.add_argument("--name", help="worker name (default: host, pid and a random suffix)")
    parser.add_argument("--lease", type=float, default=DEFAULT_LEASE_S, help="seconds a dead worker's chunk stays claimed")
    parser.add_argument("--sweep-interval", type=float, default=5.0, help="seconds between sweeps for dead chunks")
    parser.add_argument("--deadline", type=float, default=BULK_DEADLINE_S, help="seconds one product may take")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(deadline_s=args.deadline)
    if not settings.redis_url:
        raise ConfigError("REDIS_URL: shopguide worker needs Redis (without it, copy jobs run inside the API process)")
    concurrency = args.concurrency or settings.copy_concurrency
    # RQ's worker lines go through the root handler (RQ adds no console handler of its own when there is one).
    configure_logging(settings)
    catalog = load_catalog(settings.catalog, strict=settings.catalog_strict, columns=settings.catalog_columns)
    connection = redis.Redis.from_url(settings.redis_url)  # redis://, rediss:// (TLS) or unix:// (a socket)
    store = RedisJobStore(connection, settings.cache_prefix)
    stop = threading.Event()
    metrics = Metrics()
    metrics.watch(JobQueueCollector(connection, queue_name(settings.cache_prefix)))
    limiter = AdaptiveLimiter(concurrency, board=RedisPauseBoard(connection, f"{settings.cache_prefix}:copy:pause"))
    pipeline = bulk_pipeline(settings, catalog, throttled_chain(settings, metrics, limiter, stop=stop), metrics)
    chunks = ChunkWorker(pipeline, store, concurrency=concurrency, stop=stop)
    leases = Leases(store, ttl_s=args.lease)
    sweeper = Sweeper(RQDispatcher(connection, store), args.sweep_interval).start()
    worker = SimpleWorker(
        [queue_name(settings.cache_prefix)],
        connection=connection,
        job_class=bound_job_class(chunks, leases),
        name=args.name,
    )
    health = None
    if settings.worker_port:
        health = WorkerHealth(
            connection, metrics, host=settings.host, port=settings.worker_port, name=lambda: worker.name
        ).start()
    # On stdout whatever the log level: what a supervisor (or a test) waits for; a JSON object with JSON logs.
    beacon = Beacon(connection, settings.cache_prefix, worker.name).start()  # what /readyz counts as a live worker
    print(
        status_line(
            settings,
            f"shopguide worker {worker.name} ready: queue {queue_name(settings.cache_prefix)}, "
            f"{len(catalog)} products, concurrency {concurrency}",
            worker=worker.name,
            queue=queue_name(settings.cache_prefix),
            health_port=health.port if health else None,
        ),
        flush=True,
    )
    if health:
        health.running.set()
    try:
        worker.work(burst=args.burst, logging_level=settings.log_level)
    finally:
        if health:
            health.running.clear()
            health.stop()
        stop.set()
        sweeper.stop()
        beacon.stop()
    return 0
