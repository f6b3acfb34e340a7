"""``shopguide serve``: run the API under gunicorn with threaded workers and multi-process metrics."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from service.ops.gunicorn import ensure_port_free, gunicorn_options, metrics_hooks, prepare_metrics_dir
from service.settings import Settings, load_settings

AppFactory = Callable[[Settings], Any]


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any], app_factory: AppFactory | None) -> None:
        self._settings = settings
        self._options = options
        self._app_factory = app_factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:  # in each worker, after the fork
        if self._app_factory is not None:
            return self._app_factory(self._settings)
        from service.app import create_app

        return create_app(self._settings)


def serve(settings: Settings, app_factory: AppFactory | None = None) -> None:
    """Run gunicorn in the foreground until SIGTERM/SIGINT (graceful: in-flight requests finish).

    ``app_factory`` builds the WSGI app in each worker (default :func:`service.app.create_app`).
    """
    options = gunicorn_options(settings)
    ensure_port_free(options["bind"])
    directory, temporary = prepare_metrics_dir(settings)  # before any worker forks
    options.update(metrics_hooks(directory, temporary))
    _Gunicorn(settings, options, app_factory).run()


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="run the HTTP API under gunicorn")
    parser.add_argument("--host", help="bind address (default SHOPGUIDE_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default SHOPGUIDE_PORT or 8000)")
    parser.add_argument("--workers", type=int, help="worker processes")
    parser.add_argument("--threads", type=int, help="threads per worker")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in {"host": args.host, "port": args.port, "workers": args.workers, "threads": args.threads}.items() if v}
    settings = load_settings(**overrides)  # fail fast on bad configuration, before forking workers
    try:
        ensure_port_free(gunicorn_options(settings)["bind"])
    except OSError as exc:
        print(f"shopguide: {exc}", file=sys.stderr)
        return 1
    print(f"shopguide listening on http://{settings.host}:{settings.port}  (docs: /docs)", flush=True)
    serve(settings)
    return 0
