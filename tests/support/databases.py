"""Databases for tests: a SQLite file per test, or a fresh PostgreSQL database of this test session.

``SHOPGUIDE_TEST_POSTGRES_URL`` names the PostgreSQL server's admin database (default: the local one,
trust auth); each session creates ``sgtest_<random>`` there and drops it at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get("SHOPGUIDE_TEST_POSTGRES_URL", "").strip() or "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for the duration; yields its SQLAlchemy URL."""
    name = f"sgtest_{uuid.uuid4().hex[:12]}"
    admin = make_url(ADMIN_URL)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
