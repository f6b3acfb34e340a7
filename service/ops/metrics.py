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
import os
from pathlib import Path

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

from service.ops.cost import PriceTable

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


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
        self.rate_limited = Counter("shopguide_rate_limited", "Requests refused by the rate limit", ["scope"], registry=r)
        self.auth_failures = Counter("shopguide_auth_failures", "Requests refused by access control", ["status"], registry=r)
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
        if multiprocess_dir() is None:
            ProcessCollector(registry=r)  # per-process CPU and memory; meaningless merged across workers

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

    def local_queue(self, depth: int) -> None:
        self.local_queue_depth.set(depth)

    # -- exposition ------------------------------------------------------------------------
    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of this app's metrics (all workers' in multi-process mode), and its content type."""
        if multiprocess_dir():
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)
            return generate_latest(merged), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
