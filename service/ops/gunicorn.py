"""gunicorn options derived from settings, shared by ``shopguide serve`` and ``deploy/gunicorn.conf.py``."""

from __future__ import annotations

from typing import Any

from service.settings import Settings


def default_workers(settings: Settings) -> int:
    """Two workers in front of a hosted model; one when a local model is primary (each worker loads its own copy)."""
    if settings.workers:
        return settings.workers
    return 2 if settings.provider_chain and settings.provider_chain[0] != "local" else 1


def gunicorn_options(settings: Settings, *, bind: str | None = None) -> dict[str, Any]:
    return {
        "bind": bind or f"{settings.host}:{settings.port}",
        "workers": default_workers(settings),
        "worker_class": "gthread",
        "threads": settings.threads,
        # Requests wait on upstream I/O: the worker timeout must outlast the request deadline.
        "timeout": int(settings.deadline_s) + 30,
        "graceful_timeout": settings.graceful_timeout_s,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
    }
