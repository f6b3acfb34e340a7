"""Shared fixtures: the scripted upstream, real Redis with an isolated prefix, and apps built on the demo catalog."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from service.app import build_dependencies, create_app
from service.catalog.load import Catalog, load_catalog
from service.jobs.rq_backend import queue_name
from service.retrieve.base import Retriever
from service.retrieve.factory import build_retriever
from service.settings import Settings, load_settings
from tests.support.openai_upstream import OpenAIUpstream
from tests.support.redis_db import REDIS_URL, delete_keys


@pytest.fixture(scope="session")
def _upstream_server() -> Iterator[OpenAIUpstream]:
    with OpenAIUpstream() as server:
        yield server


@pytest.fixture
def upstream(_upstream_server: OpenAIUpstream) -> Iterator[OpenAIUpstream]:
    """The scripted OpenAI-compatible upstream, reset (script, records, latency) for each test."""
    _upstream_server.reset()
    yield _upstream_server
    _upstream_server.reset()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the real Redis (``tests.support.redis_db.REDIS_URL``).

    Every key holding it is deleted afterwards: the cache's, the rate limiter's and RQ's.
    """
    prefix = f"sgtest-{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_keys(prefix)


@pytest.fixture
def rq_prefix(redis_prefix: str) -> Iterator[str]:
    """``redis_prefix`` for copy jobs on RQ: RQ's registries also forget this test's queue and workers."""
    yield redis_prefix
    client = redis.Redis.from_url(REDIS_URL)
    workers = [m for m in client.smembers("rq:workers") if redis_prefix.encode() in m]
    if workers:
        client.srem("rq:workers", *workers)
    client.srem("rq:queues", f"rq:queue:{queue_name(redis_prefix)}")
    client.close()


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("index")


@pytest.fixture(scope="session")
def demo_catalog() -> Catalog:
    return load_catalog(None, strict=True)


@pytest.fixture(scope="session")
def demo_retriever(demo_catalog: Catalog, index_dir: Path) -> Retriever:
    """One BM25 index over the demo catalog for the whole session (jieba warm-up costs ~1 s)."""
    return build_retriever(demo_catalog, load_settings(index_dir=index_dir))


@pytest.fixture
def make_settings(
    upstream: OpenAIUpstream, index_dir: Path, redis_prefix: str, tmp_path: Path
) -> Callable[..., Settings]:
    """Settings pointing at the scripted upstream (openai only, no local fallback) with fast retries."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "openai_api_key": "sk-test-0123456789",
            "openai_base_url": upstream.base_url,
            "providers": "openai",
            "index_dir": index_dir,
            "cache_prefix": redis_prefix,
            "timeout_s": 2.0,
            "deadline_s": 5.0,
            "retry_max_wait_s": 0.2,
            "data_dir": tmp_path / "data",  # the SQLite database of approved copy (issue 16), one per test
        }
        values.update(overrides)
        return load_settings(**values)

    return make


@pytest.fixture
def make_app(make_settings: Callable[..., Settings], demo_catalog: Catalog, demo_retriever: Retriever) -> Callable[..., Flask]:
    """An app on the demo catalog and the shared index; settings overrides as keyword arguments."""

    def make(**overrides: Any) -> Flask:
        settings = make_settings(**overrides)
        deps = build_dependencies(settings, catalog=demo_catalog, retriever=demo_retriever)
        app = create_app(settings, deps=deps)
        app.testing = True
        return app

    return make
