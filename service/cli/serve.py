"""``shopguide serve``: run the API under gunicorn with threaded workers and multi-process metrics."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from service.local_server.supervisor import start_model_server, wants_model_server
from service.ops.gunicorn import ensure_port_free, gunicorn_options, metrics_hooks, prepare_metrics_dir
from service.ops.logs import configure_logging
from service.settings import Settings, load_settings

log = logging.getLogger(__name__)

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
    ensure_port_free(gunicorn_options(settings)["bind"])
    supervisor = None
    if wants_model_server(settings):  # issue 17: one model server for every worker, supervised from here
        settings, supervisor = start_model_server(settings)
    options = gunicorn_options(settings)  # the workers now count as hosted-only: no model inside them
    directory, temporary = prepare_metrics_dir(settings)  # before any worker forks
    options.update(metrics_hooks(directory, temporary))
    if supervisor is not None:
        options["on_exit"] = _also(options["on_exit"], lambda server: supervisor.stop())
    try:
        _Gunicorn(settings, options, app_factory).run()
    finally:
        if supervisor is not None:
            supervisor.stop()


def _also(first: Callable[[Any], None], then: Callable[[Any], None]) -> Callable[[Any], None]:
    def both(server: Any) -> None:
        first(server)
        then(server)

    return both


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
    configure_logging(settings)  # the master's lines too (gunicorn's own follow through logconfig_dict)
    try:
        ensure_port_free(gunicorn_options(settings)["bind"])
    except OSError as exc:
        print(f"shopguide: {exc}", file=sys.stderr)
        return 1
    if settings.db_migrate:  # once, before workers fork (each worker then finds the schema current)
        from service.db.engine import build_engine
        from service.db.migrate import upgrade

        engine = build_engine(settings)
        upgrade(engine)
        engine.dispose()
    log.info("shopguide listening on http://%s:%d (docs: /docs)", settings.host, settings.port)
    serve(settings)
    return 0
