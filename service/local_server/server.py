"""Run the model server in the foreground: the engine warms up in the background while uvicorn listens."""

from __future__ import annotations

import logging

from service.ops.logs import configure_logging
from service.settings import Settings

log = logging.getLogger(__name__)


def run_server(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGTERM/SIGINT. ``/healthz`` answers 503 until the model is loaded and warmed."""
    import uvicorn  # here: the web workers never need it

    from service.local_server.app import create_server_app
    from service.local_server.engine import Engine

    configure_logging(settings)
    engine = Engine.from_settings(settings)
    engine.start()
    config = uvicorn.Config(
        create_server_app(engine),
        host=host or settings.local_host,
        port=port or settings.local_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        log_config=None,  # the process's own logging (JSON lines by default)
    )
    try:
        uvicorn.Server(config).run()
    finally:
        engine.close()
