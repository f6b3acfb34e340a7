"""The ops page's one read-only document: providers and breakers, cache, catalog, local model, jobs, rates, config.

Request and error rates come from the metrics the service already keeps
(``shopguide_requests_total``, merged over gunicorn workers): each read samples
the totals, and a rate is the change over the last :data:`WINDOW_S` seconds (or
since the first sample, when the page has been open for less).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from service.ops.config_view import effective_config, mask_url
from service.ops.metrics import Metrics

WINDOW_S = 300.0


def _totals(metrics: Metrics) -> dict[str, float]:
    body, _ = metrics.exposition()
    out = {"requests": 0.0, "errors": 0.0, "server_errors": 0.0, "llm_calls": 0.0, "llm_failures": 0.0, "degraded": 0.0}
    failures: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            if family.name == "shopguide_requests":
                status = sample.labels.get("status", "")
                out["requests"] += sample.value
                if status.startswith(("4", "5")):
                    out["errors"] += sample.value
                if status.startswith("5"):
                    out["server_errors"] += sample.value
            elif family.name == "shopguide_llm_calls":
                out["llm_calls"] += sample.value
                if sample.labels.get("outcome") != "ok":
                    out["llm_failures"] += sample.value
                    name = sample.labels.get("provider", "?")
                    failures[name] = failures.get(name, 0.0) + sample.value
            elif family.name == "shopguide_degraded_answers":
                out["degraded"] += sample.value
    out.update({f"llm_failures:{k}": v for k, v in failures.items()})
    return out


class RateWindow:
    """Samples of the metric totals; rates per minute over the window."""

    def __init__(self, metrics: Metrics, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._metrics = metrics
        self._window_s = window_s
        self._clock = clock
        self._samples: deque[tuple[float, dict[str, float]]] = deque()
        self._lock = threading.Lock()
        self.sample()

    def sample(self) -> dict[str, Any]:
        now, totals = self._clock(), _totals(self._metrics)
        with self._lock:
            self._samples.append((now, totals))
            while len(self._samples) > 2 and now - self._samples[1][0] >= self._window_s:
                self._samples.popleft()
            then, old = self._samples[0]
        span = max(now - then, 1e-9)
        per_min = {k: round((v - old.get(k, 0.0)) * 60 / span, 2) for k, v in totals.items()} if span > 0.5 else {}
        return {"window_s": round(span, 1), "per_minute": per_min, "totals": totals}


def ops_state_builder(deps: Any, rates: RateWindow, reviews: Any) -> Callable[[], dict[str, Any]]:
    """A function building the ops document from the app's dependencies."""
    settings = deps.settings
    config = effective_config(settings)

    def build() -> dict[str, Any]:
        providers = []
        for info in deps.chain.describe():
            providers.append({k: mask_url(v) if k == "base_url" and isinstance(v, str) else v for k, v in info.items()})
        redis_info: dict[str, Any] = {"configured": bool(settings.redis_url)}
        if settings.redis_url:
            redis_info["url"] = mask_url(settings.redis_url)
        try:
            database = reviews.describe()
            database["ok"] = True
        except Exception as exc:  # the page shows the database down rather than failing
            database = {"ok": False, "error": type(exc).__name__}
        try:
            jobs = deps.copy_jobs.describe()
        except Exception as exc:
            jobs = {"ok": False, "error": type(exc).__name__}
        catalog = deps.catalog
        return {
            "time": time.time(),
            "providers": providers,
            "local_models": [p for p in providers if "loaded" in p],
            "cache": deps.cache.status(),
            "redis": redis_info,
            "catalog": {
                "version": catalog.version,
                "products": len(catalog),
                "source": catalog.report.source,
                "rejected_rows": len(catalog.report.errors),
            },
            "jobs": jobs,
            "database": database,
            "rates": rates.sample(),
            "config": config,
            "auth": settings.auth_mode,
        }

    return build
