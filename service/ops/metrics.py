"""Prometheus metrics, one registry per app (no global registry, so tests can build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)


class Metrics:
    """Every metric shopguide exports. Methods take plain values so callers need no prometheus types."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
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
        self.breaker_state = Gauge(
            "shopguide_breaker_open", "1 while a provider's circuit breaker is open", ["provider"], registry=r
        )
        self.local_queue_depth = Gauge("shopguide_local_queue_depth", "Requests waiting for the local model", registry=r)

    # -- callbacks used by the pipeline, cache and providers ------------------------------
    def request(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def cache_event(self, outcome: str) -> None:
        self.cache.labels(outcome).inc()

    def llm_call(self, provider: str, model: str, outcome: str, tokens_in: int = 0, tokens_out: int = 0) -> None:
        self.llm_calls.labels(provider, model, outcome).inc()
        if tokens_in:
            self.tokens.labels(provider, model, "in").inc(tokens_in)
        if tokens_out:
            self.tokens.labels(provider, model, "out").inc(tokens_out)

    def retry(self, provider: str, exc: BaseException | None) -> None:
        self.llm_retries.labels(provider, type(exc).__name__ if exc else "unknown").inc()
