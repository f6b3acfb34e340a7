"""The database engine from settings: ``DATABASE_URL`` (PostgreSQL) or a SQLite file under the data directory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from service.errors import ConfigError
from service.settings import Settings

log = logging.getLogger(__name__)

SQLITE_FILE = "shopguide.db"


def database_url(settings: Settings) -> str:
    """The URL in effect: ``DATABASE_URL``, else ``sqlite:///<SHOPGUIDE_DATA_DIR>/shopguide.db``.

    ``postgres://`` and ``postgresql://`` use the psycopg (3) driver.
    """
    if settings.database_url:
        url = make_url(settings.database_url)
        if url.drivername in ("postgres", "postgresql"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    return f"sqlite:///{Path(settings.data_dir) / SQLITE_FILE}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=FULL")  # a decision acknowledged is on disk, even after a power cut
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")  # several gunicorn workers write one file
    cursor.close()


def build_engine(settings: Settings) -> Engine:
    """An engine for the configured database (the SQLite file's folder is created).

    :raises ConfigError: naming DATABASE_URL when its driver is not supported.
    """
    url = make_url(database_url(settings))
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() != "postgresql":
        raise ConfigError(f"DATABASE_URL: use postgresql:// or sqlite:///, not {url.drivername}://")
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
