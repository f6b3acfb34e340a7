"""service/jobs/factory.py: copy jobs on the app's one Redis client, so a Redis that hangs fails fast."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import small_shop
from tests.support.redis_db import REDIS_URL


@pytest.fixture
def silent_redis_url() -> Iterator[str]:
    """A TCP port that takes connections (the kernel completes them) and never answers: a hung Redis."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(128)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


def answer_within(seconds: float, call: Any) -> Any:
    """``call()``'s result, failing the test if it takes longer than ``seconds`` (it may hang forever)."""
    box: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: box.update(result=call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"no answer in {seconds} s: a client without timeouts waits on Redis forever"
    return box["result"]


def test_a_hung_redis_makes_job_requests_fail_fast(silent_redis_url: str) -> None:
    settings = small_shop.settings(redis_url=silent_redis_url, rate_limit="off")
    client = small_shop.app(settings).test_client()
    started = time.monotonic()
    created = answer_within(10, lambda: client.post("/v1/copy/jobs", json={"product_ids": ["p-down-1"]}))
    assert created.status_code == 503 and created.json["error"]["code"] == "unavailable"
    status = answer_within(10, lambda: client.get("/v1/copy/jobs/0123abcd"))
    assert status.status_code == 503
    assert time.monotonic() - started < 5  # two calls on the client's 0.5 s socket timeouts


def test_jobs_share_the_apps_redis_client(rq_prefix: str) -> None:
    settings = small_shop.settings(redis_url=REDIS_URL, cache_prefix=rq_prefix)
    deps = small_shop.deps(settings)
    store = deps.copy_jobs._store  # noqa: SLF001 - which client the store holds is the point
    assert store.client is deps.cache._client  # noqa: SLF001
    client = small_shop.app(settings).test_client()
    created = client.post("/v1/copy/jobs", json={"product_ids": ["p-down-1"]})
    assert created.status_code == 202
    assert client.get(created.json["status_url"]).json["backend"] == "rq"
