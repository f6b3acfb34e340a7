"""The Redis the tests use, named in one place, and the clean-up of one test's keys.

``SHOPGUIDE_TEST_REDIS_URL`` points the suite at another Redis (default: the local one, db 0).
Tests never flush a database: each writes under a prefix of its own (conftest's ``redis_prefix``).
"""

from __future__ import annotations

import os

import redis

REDIS_URL = os.environ.get("SHOPGUIDE_TEST_REDIS_URL", "").strip() or "redis://127.0.0.1:6379/0"
# Nothing listens on port 1: connections are refused at once (a Redis that is down).
DOWN_REDIS_URL = "redis://127.0.0.1:1/0"


def delete_keys(prefix: str, url: str = REDIS_URL) -> int:
    """Delete every key holding ``prefix`` anywhere in its name (cache, rate limits, RQ); how many went."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(f"*{prefix}*", count=1000))
        return client.delete(*keys) if keys else 0
    finally:
        client.close()
