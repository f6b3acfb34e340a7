"""gunicorn options and server hooks derived from settings, shared by ``shopguide serve`` and ``deploy/gunicorn.conf.py``."""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.ops.logs import gunicorn_logconfig
from service.ops.metrics import enable_multiprocess, mark_worker_dead
from service.ops.worker import buffering_worker
from service.provider.registry import provider_registry
from service.settings import Settings

log = logging.getLogger(__name__)


def default_workers(settings: Settings) -> int:
    """With Redis and a hosted primary model: two workers per CPU core, or two when the local model is
    in the chain; otherwise one.

    Requests mostly wait on the upstream, but each costs a few ms of Python CPU and threads of one
    worker share its GIL: on 2 cores, 4 workers served 285 req/s (64 clients, 200 ms upstream) and
    1,506 cache hits/s against 244 and 1,287 with 2 (docs/benchmarks.md). A local model, even as the
    fallback, is loaded once per worker process (about 1 GB each) and generations of several workers
    would fight over the same cores, so a chain holding a model that runs in process (``local``; see
    the provider registry) keeps two. Without Redis the cache,
    single-flight, breakers and in-process copy jobs live in one process, so a second worker would
    answer job status requests with 404 and miss the first worker's cache.
    """
    if settings.workers:
        if settings.workers > 1 and not settings.redis_url:
            log.warning(
                "SHOPGUIDE_WORKERS=%d without REDIS_URL: each worker keeps its own cache and copy jobs",
                settings.workers,
            )
        return settings.workers
    chain = settings.provider_chain
    registry = provider_registry(settings)
    hosted_primary = bool(chain) and not registry.any_in_process(chain[:1])
    if not (hosted_primary and settings.redis_url):
        return 1
    if registry.any_in_process(chain):
        return 2
    return min(2 * (os.cpu_count() or 1), 16)


def gunicorn_options(settings: Settings, *, bind: str | None = None) -> dict[str, Any]:
    workers = default_workers(settings)
    bind = bind or f"{settings.host}:{settings.port}"
    return {
        "bind": bind,
        "workers": workers,
        # gthread, with each request read whole by the event loop before a thread takes it: slow clients
        # hold no thread and get a 408 after SHOPGUIDE_REQUEST_READ_TIMEOUT_S (service/ops/worker.py).
        "worker_class": buffering_worker(settings.request_read_timeout_s, settings.max_body_bytes),
        # Each worker listens on its own SO_REUSEPORT socket and the kernel spreads new connections
        # evenly. On one shared socket, whichever worker wakes first accepts, and keep-alive clients
        # stay where they landed: under bench/service.py's 64 clients four workers held 72/20/44/39
        # sockets and used 0.59/0.10/0.40/0.33 cores, the busiest one's GIL queueing its requests
        # (ensure_port_free keeps a second server from silently sharing the port).
        "reuse_port": workers > 1,
        "post_worker_init": freeze_startup_objects,
        "threads": settings.threads,
        # Requests wait on upstream I/O: the worker timeout must outlast the request deadline.
        "timeout": int(settings.deadline_s) + 30,
        # SIGTERM: stop accepting, let in-flight requests finish for up to this long, then exit.
        "graceful_timeout": settings.graceful_timeout_s,
        "keepalive": 5,
        "accesslog": None,  # the app writes its own JSON access line per request
        # ...and gunicorn none: given logconfig_dict, it writes its combined-format line too, path and query
        # string included (raw shopper ids from /v1/users/<id>), at INFO whatever SHOPGUIDE_LOG_LEVEL says.
        "logger_class": "service.ops.gunicorn.NoAccessLogger",
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        # gunicorn's own lines (master and workers) in the service's format: JSON when SHOPGUIDE_LOG_FORMAT=json.
        "logconfig_dict": gunicorn_logconfig(settings, bind),
        **control_socket_option(settings, bind),
    }


try:
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover - gunicorn is a dependency
    _GunicornLogger = object  # type: ignore[assignment,misc]


class NoAccessLogger(_GunicornLogger):  # type: ignore[misc,valid-type]
    """gunicorn's logger without its access line: shopguide's own JSON one (``service.ops.access_log``) is
    the only one, and it writes the route, never the path with its raw ids, nor the query string."""

    @property
    def access_log_enabled(self) -> bool:  # gunicorn 24+: the workers skip building the line at all
        return False

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None


def control_socket_option(settings: Settings, bind: str) -> dict[str, Any]:
    """gunicorn (25.1+)'s control socket under ``SHOPGUIDE_DATA_DIR``, not ``$HOME/.gunicorn`` (read-only in containers).

    One socket per bind address, so two servers sharing a data directory do not take each other's.
    """
    from gunicorn.config import KNOWN_SETTINGS

    if not any(setting.name == "control_socket" for setting in KNOWN_SETTINGS):
        return {}
    name = hashlib.sha256(bind.encode()).hexdigest()[:12] if bind.startswith(("unix:", "fd://")) else bind.rpartition(":")[2]
    return {"control_socket": str(settings.data_dir / "run" / f"gunicorn-{name}.ctl")}


def freeze_startup_objects(worker: Any) -> None:
    """gunicorn ``post_worker_init``: move what start-up built out of the garbage collector's sight.

    The catalog, indexes, jieba's dictionary and the imported modules are ~160k objects that live as
    long as the worker; a full collection walked them all, an 85 ms pause every so often that was
    the one-client p99 of a cache hit (bench/service.py). Frozen (``gc.freeze``), they are never
    scanned again; what requests allocate is collected as before.
    """
    gc.collect()
    gc.freeze()


def ensure_port_free(bind: str) -> None:
    """Refuse to start on a TCP port another server listens on.

    With ``reuse_port`` a second server would bind the same port without complaint and take part of
    the traffic; a plain bind (without SO_REUSEPORT) fails on a port anyone listens on.

    :raises OSError: the port is taken (message names it).
    """
    if bind.startswith(("unix:", "fd://")):
        return
    host, _, port = bind.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As gunicorn binds: connections a killed server left in TIME_WAIT do not block a restart, a listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as exc:
            raise OSError(exc.errno, f"cannot listen on {bind}: {exc.strerror} (is another server running?)") from exc


def prepare_metrics_dir(settings: Settings) -> tuple[Path, bool]:
    """Turn on multi-process metrics before workers fork; returns the directory and whether it is temporary.

    Uses ``PROMETHEUS_MULTIPROC_DIR`` when set (emptied first), else a fresh temporary directory.
    """
    if settings.metrics_dir is not None:
        directory, temporary = settings.metrics_dir, False
    else:
        directory, temporary = Path(tempfile.mkdtemp(prefix="shopguide-metrics-")), True
    enable_multiprocess(directory)
    return directory, temporary


def metrics_hooks(directory: Path, temporary: bool) -> dict[str, Callable[..., None]]:
    """gunicorn server hooks: forget dead workers' live gauges; remove a temporary directory when the master exits."""

    def child_exit(server: Any, worker: Any) -> None:
        mark_worker_dead(worker.pid)

    def on_exit(server: Any) -> None:  # runs in the master only, never in a worker
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)

    return {"child_exit": child_exit, "on_exit": on_exit}
