"""The model server's one model: loaded and warmed once, fed by the batching queue, measured.

Every HTTP request becomes a :class:`ChatRequest` queued on the :class:`LocalProvider`'s
batcher (one worker thread owns the model; concurrent requests run as one batch). The
engine adds what a server needs: its state for ``/healthz``, a warm-up generation before
it reports ready, and Prometheus metrics in a registry of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from service.errors import ShopguideError
from service.provider.base import ChatRequest
from service.provider.local.provider import LocalProvider

if TYPE_CHECKING:
    from service.settings import Settings

log = logging.getLogger(__name__)

State = Literal["loading", "ready", "failed"]

WARM_UP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "note": {"type": "string", "maxLength": 16}},
    "required": ["ok", "note"],
    "additionalProperties": False,
}


class ServerMetrics:
    """The model server's metrics (``/metrics``), in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "shopguide_local_server_requests", "Chat completions by outcome", ["outcome"], registry=r
        )
        self.latency = Histogram(
            "shopguide_local_server_request_seconds", "Request time, queue included", registry=r,
            buckets=(0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 60, 120),
        )
        self.first_token = Histogram(
            "shopguide_local_server_first_token_seconds", "Time to the first streamed token", registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32),
        )
        self.queue_depth = Gauge("shopguide_local_server_queue_depth", "Requests waiting for the model", registry=r)
        self.running = Gauge("shopguide_local_server_batch_running", "Rows of the batch being generated", registry=r)
        self.batch_size = Histogram(
            "shopguide_local_server_batch_size", "Rows per generated batch", registry=r,
            buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64),
        )
        self.prompt_tokens = Counter("shopguide_local_server_prompt_tokens", "Prompt tokens read", registry=r)
        self.completion_tokens = Counter(
            "shopguide_local_server_completion_tokens", "Tokens generated", registry=r
        )
        self.ready = Gauge("shopguide_local_server_ready", "1 once the model is loaded and warmed", registry=r)


class Engine:
    """One loaded model behind the batching queue, with its state and metrics."""

    def __init__(
        self,
        provider: LocalProvider,
        *,
        request_timeout_s: float = 120.0,
        max_new_tokens: int = 512,
        default_temperature: float = 0.0,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self.provider = provider
        self.request_timeout_s = request_timeout_s
        self.max_new_tokens = max_new_tokens  # a request's max_tokens is capped here
        self.default_temperature = default_temperature  # when a request names none
        self.metrics = metrics or ServerMetrics()
        self.metrics.running.set_function(lambda: self.provider.running)
        self.state: State = "loading"
        self.error: str | None = None
        self.started = time.time()
        self.ready_s: float | None = None  # seconds from start to ready (load + warm-up)

    @classmethod
    def from_settings(cls, settings: Settings) -> Engine:
        metrics = ServerMetrics()
        provider = LocalProvider.from_settings(settings, on_queue_depth=metrics.queue_depth.set)
        return cls(
            provider,
            request_timeout_s=settings.local_request_timeout_s,
            max_new_tokens=settings.local_max_new_tokens,
            default_temperature=settings.local_temperature,
            metrics=metrics,
        )

    @property
    def model_name(self) -> str:
        return self.provider.model_name

    def start(self) -> threading.Thread:
        """Load and warm the model in the background (the server answers /healthz meanwhile)."""
        thread = threading.Thread(target=self.warm_up, name="local-server-warm-up", daemon=True)
        thread.start()
        return thread

    def warm_up(self) -> None:
        """Load the model, then run one constrained generation: ready means a request is answered at full speed."""
        started = time.monotonic()
        try:
            self.provider.warm_up()
            request = ChatRequest(
                messages=({"role": "user", "content": "Reply with JSON: is this a test?"},),
                schema_name="warm_up",
                schema=WARM_UP_SCHEMA,
                deadline=time.monotonic() + 600,
                temperature=0.0,
                max_tokens=24,
                endpoint="warm-up",
            )
            job = self.provider.submit(request)
            job.future.result(timeout=600)
        except ShopguideError as exc:
            self.state, self.error = "failed", str(exc)
            log.error("model server failed to start: %s", exc)
            return
        except Exception as exc:  # noqa: BLE001 - any failure is a failed start, reported on /healthz
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("model server failed to start")
            return
        self.ready_s = time.monotonic() - started
        self.state = "ready"
        self.metrics.ready.set(1)
        log.info("model server ready: %s in %.1fs", self.model_name, self.ready_s)

    def health(self) -> dict[str, Any]:
        info = self.provider.describe()
        return {
            "status": self.state,
            "model": self.model_name,
            "error": self.error,
            "ready_s": round(self.ready_s, 2) if self.ready_s is not None else None,
            "uptime_s": round(time.time() - self.started, 1),
            **{k: info.get(k) for k in ("device", "dtype", "quantize", "threads", "queue_depth", "queue_size", "running",
                                         "max_batch_size", "batches", "generation", "grammar_cache")},
        }

    def close(self) -> None:
        self.provider.close()
