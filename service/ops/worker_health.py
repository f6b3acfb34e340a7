"""``shopguide worker``'s health and metrics port (``SHOPGUIDE_WORKER_PORT``): probes and scrapes of a process without HTTP.

``GET /healthz`` is 200 while the worker's loop runs and Redis answers a PING, else 503 (JSON either
way, saying which); ``GET /metrics`` is the worker's Prometheus registry: its provider calls, retries
and latencies, and the copy-job queue (depth, oldest age, workers alive). The port serves no API and
needs no key: expose it to the cluster's probes and Prometheus, not to the Internet.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import orjson
import redis
from prometheus_client import make_wsgi_app

from service.errors import ConfigError
from service.ops.metrics import Metrics

log = logging.getLogger(__name__)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        log.debug("worker health: " + format, *args)  # probes every few seconds: not an INFO line each


class WorkerHealth:
    """The health server of one worker process; ``running`` is set while its job loop runs.

    :raises ConfigError: the port is taken (or not ours to bind).
    """

    def __init__(self, connection: redis.Redis, metrics: Metrics, *, host: str, port: int, name: Callable[[], str]) -> None:
        self.running = threading.Event()
        self._connection = connection
        self._name = name
        self._metrics_app = make_wsgi_app(metrics.registry)
        try:
            self._server = make_server(host, port, self._app, server_class=_ThreadingServer, handler_class=_QuietHandler)
        except OSError as exc:
            raise ConfigError(f"SHOPGUIDE_WORKER_PORT: cannot listen on {host}:{port}: {exc.strerror}") from None
        self._thread = threading.Thread(target=self._server.serve_forever, name="worker-health", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> WorkerHealth:
        self._thread.start()
        log.info("worker health and metrics on http://%s:%d", *self._server.server_address[:2])
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def status(self) -> tuple[bool, dict[str, Any]]:
        try:
            redis_ok = bool(self._connection.ping())
        except redis.RedisError:
            redis_ok = False
        running = self.running.is_set()
        return redis_ok and running, {"worker": self._name(), "running": running, "redis": redis_ok}

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        if path in ("/healthz", "/readyz"):
            ok, body = self.status()
            data = orjson.dumps({"status": "ok" if ok else "unavailable", **body})
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [data]
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [orjson.dumps({"error": {"code": "not_found", "message": "this port serves /healthz and /metrics"}})]
