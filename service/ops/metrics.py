"""Prometheus metrics, one registry per app (no global registry, so tests can build many apps).

Under gunicorn the workers are separate processes, so the service runs
prometheus_client's multi-process mode: every metric value is written to an
mmap file in ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` merges the files of
all workers at scrape time. That mode is process-wide by nature (the library
picks its value storage from the environment, for every metric of the process);
it is switched on only by the server entry points (``shopguide serve`` and
``deploy/gunicorn.conf.py``) through :func:`enable_multiprocess`.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from datetime import timezone
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.ops.cost import PriceTable

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)
# A provider call: a hosted model answers in 0.3-10 s, the local model on CPU in 5-40 s, a failure may take ~0.
LLM_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 120)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_FILE = re.compile(r"gauge_live(?:sum|max|min|all|mostrecent)_(\d+)\.db$")


def multiprocess_dir() -> str | None:
    """The multi-process directory when multi-process mode is on, else None."""
    return os.environ.get(MULTIPROC_ENV) or None


def enable_multiprocess(directory: Path) -> None:
    """Switch this process (and the workers it forks) to multi-process metrics in ``directory``.

    The directory is created, and emptied of a previous run's files (prometheus_client
    requires a clean directory per server start).
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in glob.glob(str(directory / "*.db")):
        os.remove(stale)
    os.environ[MULTIPROC_ENV] = str(directory)
    # prometheus_client chooses its value class when first imported; re-choose it in case
    # it was imported before the variable was set (metrics are created later, in the workers).
    values.ValueClass = values.get_value_class()


def mark_worker_dead(pid: int) -> None:
    """gunicorn ``child_exit``: drop a dead worker's live gauges (its counters stay in the totals)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


class Metrics:
    """Every metric shopguide exports. Methods take plain values so callers need no prometheus types."""

    def __init__(self, registry: CollectorRegistry | None = None, *, prices: PriceTable | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.prices = prices or PriceTable()
        r = self.registry
        self.requests = Counter("shopguide_requests", "HTTP requests", ["endpoint", "status"], registry=r)
        self.latency = Histogram(
            "shopguide_request_latency_seconds", "HTTP request latency", ["endpoint"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.llm_calls = Counter(
            "shopguide_llm_calls", "Provider calls by outcome", ["provider", "model", "outcome"], registry=r
        )
        self.llm_retries = Counter("shopguide_llm_retries", "Upstream retries", ["provider", "reason"], registry=r)
        self.fallbacks = Counter(
            "shopguide_fallbacks", "Answers from a provider after an earlier one failed", ["from_provider", "to_provider"], registry=r
        )
        self.tokens = Counter("shopguide_llm_tokens", "Tokens", ["provider", "model", "direction"], registry=r)
        self.cost = Counter("shopguide_llm_cost_usd", "Estimated provider cost in USD", ["provider", "model"], registry=r)
        self.cache = Counter("shopguide_cache_events", "Answer cache events", ["outcome"], registry=r)
        self.coalesced = Counter("shopguide_coalesced_requests", "Requests answered by another's in-flight call", registry=r)
        self.degraded = Counter("shopguide_degraded_answers", "Answers built from retrieval alone", ["endpoint"], registry=r)
        self.invalid_output = Counter(
            "shopguide_invalid_output", "Model outputs that needed repair, re-ask, or failed", ["stage"], registry=r
        )
        # issue 14: copy checks
        self.copy_near_duplicates = Counter(
            "shopguide_copy_near_duplicates",
            "Copy variants that nearly repeated another (found: in the model's answer; merged: not returned)",
            ["outcome"],
            registry=r,
        )
        self.rate_limited = Counter("shopguide_rate_limited", "Requests refused by the rate limit", ["scope"], registry=r)
        self.auth_failures = Counter("shopguide_auth_failures", "Requests refused by access control", ["status"], registry=r)
        self.events = Counter(  # issue 12
            "shopguide_events", "Shopper events received: accepted, duplicate or rejected", ["outcome"], registry=r
        )
        # issue 13 (i13-faults): model prose cleaned before it is shown; providers whose answers are mostly invalid
        self.sanitized = Counter(
            "shopguide_output_sanitized",
            "Markup, links, e-mail addresses and phone numbers removed from model prose",
            ["endpoint", "kind"],
            registry=r,
        )
        self.provider_invalid_share = Gauge(
            "shopguide_provider_invalid_share",
            "Share of a provider's recent answers that broke the output contract (max over workers)",
            ["provider"],
            registry=r,
            multiprocess_mode="livemax",
        )
        # Gauges: in multi-process mode, one value per live worker, aggregated as named.
        self.breaker_open = Gauge(
            "shopguide_breaker_open",
            "1 while a provider's circuit breaker is open (max over workers)",
            ["provider"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.local_queue_depth = Gauge(
            "shopguide_local_queue_depth", "Requests waiting for the local model", registry=r, multiprocess_mode="livesum"
        )
        # issue 14 item 17: per-provider latency of every call, answered or failed (outcome: ok or the error kind).
        self.llm_latency = Histogram(
            "shopguide_llm_latency_seconds",
            "Provider call latency by provider and outcome",
            ["provider", "outcome"],
            buckets=LLM_LATENCY_BUCKETS,
            registry=r,
        )
        self._watched: list[Collector] = []
        if multiprocess_dir() is None:
            ProcessCollector(registry=r)  # this process's CPU and memory
        # Under gunicorn each worker's process metrics come labelled by pid (WorkerProcesses, at scrape time).

    def watch(self, collector: Collector) -> None:
        """Add a collector read at scrape time (queue depth from Redis...), in both exposition modes."""
        self._watched.append(collector)
        self.registry.register(collector)

    # -- callbacks used by the pipeline, cache, providers and the breaker ------------------
    def request(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def cache_event(self, outcome: str) -> None:
        self.cache.labels(outcome).inc()

    def llm_call(self, provider: str, model: str, outcome: str, tokens_in: int = 0, tokens_out: int = 0) -> None:
        """One provider call. Its cost is estimated from the model's price (unpriced models add none)."""
        self.llm_calls.labels(provider, model, outcome).inc()
        if tokens_in:
            self.tokens.labels(provider, model, "in").inc(tokens_in)
        if tokens_out:
            self.tokens.labels(provider, model, "out").inc(tokens_out)
        if tokens_in or tokens_out:
            cost = self.prices.cost(model, tokens_in, tokens_out)
            if cost:
                self.cost.labels(provider, model).inc(cost)

    def retry(self, provider: str, exc: BaseException | None) -> None:
        self.llm_retries.labels(provider, type(exc).__name__ if exc else "unknown").inc()

    def fallback(self, from_provider: str, to_provider: str) -> None:
        self.fallbacks.labels(from_provider, to_provider).inc()

    def breaker_state(self, provider: str, open: bool) -> None:
        """The circuit breaker of ``provider`` opened (True) or closed (False)."""
        self.breaker_open.labels(provider).set(1 if open else 0)

    def output_sanitized(self, endpoint: str, kind: str, count: int = 1) -> None:
        self.sanitized.labels(endpoint, kind).inc(count)

    def invalid_share(self, provider: str, share: float) -> None:
        self.provider_invalid_share.labels(provider).set(share)

    def local_queue(self, depth: int) -> None:
        self.local_queue_depth.set(depth)

    def provider_call(self, provider: str, outcome: str, seconds: float) -> None:
        """One call of ``provider`` took ``seconds`` and ended ``outcome`` ("ok" or the error kind)."""
        self.llm_latency.labels(provider, outcome).observe(seconds)

    # -- exposition ------------------------------------------------------------------------
    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of this app's metrics (all workers' in multi-process mode), and its content type."""
        directory = multiprocess_dir()
        if directory:
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)
            merged.register(WorkerProcesses(directory))
            for collector in self._watched:
                merged.register(collector)
            return generate_latest(merged), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class WorkerProcesses(Collector):
    """CPU, memory and file descriptors of every live gunicorn worker, each labelled with its ``pid``.

    prometheus_client's ProcessCollector reports the scraped process only, which under gunicorn is
    whichever worker took the scrape; the live workers are those with live-gauge files in the
    multi-process directory (``child_exit`` removes a dead one's).
    """

    def __init__(self, directory: str) -> None:
        self._directory = directory

    def pids(self) -> list[int]:
        found = set()
        for path in glob.glob(os.path.join(self._directory, "gauge_live*_*.db")):
            match = _LIVE_FILE.search(path)
            if match:
                found.add(int(match.group(1)))
        return sorted(pid for pid in found if os.path.exists(f"/proc/{pid}"))

    def collect(self) -> Iterator[Metric]:
        pids = self.pids()
        yield GaugeMetricFamily("shopguide_web_workers", "gunicorn worker processes alive", value=len(pids))
        families: dict[str, Metric] = {}
        for pid in pids:
            for family in ProcessCollector(pid=lambda pid=pid: pid, registry=None).collect():
                merged = families.setdefault(family.name, Metric(family.name, family.documentation, family.type))
                for s in family.samples:
                    merged.add_sample(s.name, {**s.labels, "pid": str(pid)}, s.value)
        yield from families.values()


class JobQueueCollector(Collector):
    """The copy-job queue as Prometheus sees it, read from Redis at scrape time (RQ's own keys).

    ``shopguide_job_queue_depth`` (chunks waiting), ``shopguide_job_queue_oldest_age_seconds`` (how long
    the next one has waited; 0 when none), ``shopguide_job_workers`` (RQ workers alive on the queue) and
    ``shopguide_job_queue_up`` (0 when Redis did not answer; the others are then left out).
    """

    def __init__(self, connection: Any, queue: str) -> None:
        self._connection = connection
        self._queue = queue

    def describe(self) -> Iterable[Metric]:
        return []  # read Redis only when scraped, never at registration

    def collect(self) -> Iterator[Metric]:
        import redis
        from rq import Queue, Worker
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        up = GaugeMetricFamily("shopguide_job_queue_up", "1 when the copy-job queue in Redis could be read")
        try:
            queue = Queue(self._queue, connection=self._connection)
            depth = queue.count
            age = 0.0
            for job_id in queue.get_job_ids(0, 1):
                try:
                    enqueued = Job.fetch(job_id, connection=self._connection).enqueued_at
                except NoSuchJobError:  # taken (and gone) between the two reads: nothing waits that long
                    enqueued = None
                if enqueued is not None:
                    enqueued = enqueued if enqueued.tzinfo else enqueued.replace(tzinfo=timezone.utc)
                    age = max(0.0, time.time() - enqueued.timestamp())
            workers = Worker.count(connection=self._connection, queue=queue)
        except redis.RedisError as exc:
            log.debug("job queue metrics unavailable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("shopguide_job_queue_depth", "Copy-job chunks waiting for a worker", value=depth)
        yield GaugeMetricFamily(
            "shopguide_job_queue_oldest_age_seconds", "How long the next queued chunk has waited", value=age
        )
        yield GaugeMetricFamily("shopguide_job_workers", "RQ workers alive on the copy-job queue", value=workers)
