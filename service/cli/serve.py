"""``shopguide serve``: run the API under gunicorn with threaded workers."""

from __future__ import annotations

import argparse
from typing import Any

from gunicorn.app.base import BaseApplication

from service.ops.gunicorn import gunicorn_options
from service.settings import Settings, load_settings


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from service.app import create_app

        return create_app(self._settings)


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
    print(f"shopguide listening on http://{settings.host}:{settings.port}  (docs: /docs)", flush=True)
    _Gunicorn(settings, gunicorn_options(settings)).run()
    return 0
