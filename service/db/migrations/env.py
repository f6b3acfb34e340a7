"""Alembic environment: runs on the connection :func:`service.db.migrate.upgrade` hands it."""

from __future__ import annotations

from alembic import context

from service.db.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - shopguide always passes its own connection
    raise RuntimeError("run migrations through `shopguide db upgrade`, not the alembic command")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
