"""The relational database: reviewed and approved copy, its version history and review decisions.

SQLAlchemy 2.x over SQLite (a file under ``SHOPGUIDE_DATA_DIR``) or PostgreSQL
(``DATABASE_URL``); the schema is managed by Alembic migrations shipped in this
package (:mod:`service.db.migrate`).
"""
