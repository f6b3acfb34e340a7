"""REDIS_URL as a unix socket (unix://) or over TLS (rediss://): every user of Redis reaches it (issue 14 item 9).

Each test starts a redis-server of its own (a socket in a fresh temp directory, or a TLS port with a
throw-away certificate), never the shared one on 6379: the cache, single-flight, the rate limiter
(``limits`` storage, which names unix sockets ``redis+unix://``), copy jobs on RQ and their queue
metrics, and a real ``shopguide worker`` process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from service.errors import ConfigError
from service.ops.ratelimit import RateLimiter
from service.settings import load_settings
from tests.support import small_shop
from tests.support.prometheus import sample
from tests.support.scripted_provider import ScriptedProvider

REPO = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server (Debian package redis-server)")


def _start(args: list[str], ready: redis.Redis, directory: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [REDIS_SERVER, "--save", "", "--appendonly", "no", "--dir", str(directory), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if ready.ping():
                return proc
        except redis.RedisError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"redis-server {args} did not start")


@pytest.fixture
def unix_redis() -> Iterator[str]:
    """A redis-server listening only on a unix socket of its own; yields its unix:// URL."""
    directory = Path(tempfile.mkdtemp(prefix="sg-redis-"))  # short: a socket path has at most 107 bytes
    path = directory / "redis.sock"
    url = f"unix://{path}?db=0"
    proc = _start(["--port", "0", "--unixsocket", str(path), "--unixsocketperm", "700"], redis.Redis(unix_socket_path=str(path)), directory)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tls_redis() -> Iterator[str]:
    """A redis-server speaking only TLS on a loopback port, with a self-signed certificate; yields its rediss:// URL."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make the test certificate")
    directory = Path(tempfile.mkdtemp(prefix="sg-redis-tls-"))
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )
    port = _free_port()
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}"
    proc = _start(
        ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
         "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"],
        redis.Redis.from_url(url), directory,
    )
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("scheme", ["unix", "rediss"])
def test_every_redis_user_reaches_the_url(scheme: str, request: pytest.FixtureRequest) -> None:
    """Rate limiter, cache, single-flight and copy jobs (and their metrics) all live in the Redis the URL names."""
    url = request.getfixturevalue("unix_redis" if scheme == "unix" else "tls_redis")
    direct = redis.Redis.from_url(url)
    # A TLS connect includes its handshake: on a shared 2-core box that can pass the 50 ms request-path default.
    keyed = small_shop.settings(
        redis_url=url, api_keys=f"shop:{'a' * 64}:recommend", rate_limit="1000/minute", redis_timeout_s=0.5
    )
    assert keyed.redis_url.startswith(f"{scheme}://")
    # The limiter's storage: the scheme `limits` did not know stopped every gunicorn worker at boot.
    limiter = RateLimiter.from_settings(keyed)
    assert limiter is not None and limiter.backend == "redis"
    assert limiter.check("recommend", "shop") is None
    assert any(f"{keyed.cache_prefix}:rl" in key.decode() for key in direct.scan_iter("*"))

    settings = small_shop.settings(redis_url=url, redis_timeout_s=0.5)
    client = small_shop.app(settings, ScriptedProvider()).test_client()
    cache = client.get("/readyz").json["cache"]
    assert cache["backend"] == "redis" and cache["ok"] is True, cache
    first = client.post("/v1/recommend", json={"query": "gaming laptop"})
    second = client.post("/v1/recommend", json={"query": "gaming laptop"})
    assert first.status_code == second.status_code == 200, first.get_data(as_text=True)
    assert first.headers["X-Shopguide-Cache"] == "miss" and second.headers["X-Shopguide-Cache"] == "hit"
    assert any(key.decode().startswith(f"{settings.cache_prefix}:") for key in direct.scan_iter("*"))

    job = client.post("/v1/copy/jobs", json={"product_ids": ["p-laptop-1", "p-phone-1"], "variants": 1})
    assert job.status_code == 202, job.get_data(as_text=True)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert sample(metrics, "shopguide_job_queue_up") == 1
    assert sample(metrics, "shopguide_job_queue_depth") >= 1  # no worker runs: the chunk waits, in this Redis
    assert sample(metrics, "shopguide_job_workers") == 0
    direct.close()


def test_a_worker_process_runs_jobs_over_a_unix_socket(unix_redis: str, upstream, tmp_path: Path) -> None:
    """``shopguide worker --burst`` with REDIS_URL=unix://... takes the queued chunk and finishes the job."""
    from tests.support.copywriter import write_copy
    from tests.support.openai_upstream import reply_fn

    upstream.default(reply_fn(write_copy))
    settings = small_shop.settings(
        redis_url=unix_redis, openai_base_url=upstream.base_url, openai_api_key="sk-test", providers="openai"
    )
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("\n".join(p.model_dump_json() for p in small_shop.PRODUCTS) + "\n", encoding="utf-8")
    client = small_shop.app(settings).test_client()
    job = client.post("/v1/copy/jobs", json={"product_ids": ["p-laptop-1", "p-phone-1"], "variants": 1})
    assert job.status_code == 202, job.get_data(as_text=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUIDE_", "OPENAI_", "REDIS_URL"))}
    env.update(
        REDIS_URL=unix_redis, OPENAI_BASE_URL=upstream.base_url, OPENAI_API_KEY="sk-test", SHOPGUIDE_PROVIDERS="openai",
        SHOPGUIDE_CATALOG=str(catalog), SHOPGUIDE_CACHE_PREFIX=settings.cache_prefix, PYTHONPATH=str(REPO),
        SHOPGUIDE_DATA_DIR=str(tmp_path / "data"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "service", "worker", "--burst", "--sweep-interval", "0.2"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    status = client.get(f"/v1/copy/jobs/{job.json['job_id']}").json
    assert status["state"] == "completed" and status["done"] == 2 and status["failed"] == 0, status


@pytest.mark.parametrize(
    "url, problem",
    [
        ("unix://", "no socket path"),
        ("http://127.0.0.1:6379/0", "redis://, rediss:// or unix://"),
        ("redis://:6379/0", "empty host"),
    ],
)
def test_unusable_urls_are_refused_at_configuration_time(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(redis_url=url)
    assert "REDIS_URL" in str(caught.value) and problem in str(caught.value)
    assert "SHOPGUIDE_" not in str(caught.value)  # the one mistake only, not defaults computed from other fields


def test_gunicorn_workers_boot_on_a_unix_socket_redis(unix_redis: str, upstream, tmp_path: Path) -> None:
    """The reported failure end to end: with keys (so the limiter is built) every worker boots and serves."""
    from tests.support.waiting import wait_for
    from tests.test_ops_gunicorn import call, free_port, server_env, stop, up

    port = free_port()
    env = server_env(
        upstream, port, REDIS_URL=unix_redis, SHOPGUIDE_API_KEYS=f"ops:{'b' * 64}:ops", SHOPGUIDE_DATA_DIR=str(tmp_path),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"), SHOPGUIDE_REDIS_TIMEOUT_S="0.5",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "tests.support.small_shop:create_test_app()"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(lambda: up(port) or proc.poll() is not None, timeout_s=60)
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        for _ in range(6):  # both workers answer (separate connections)
            status, body = call(port, "GET", "/readyz")
            assert status == 200 and body["cache"]["backend"] == "redis" and body["cache"]["ok"] is True, body
        assert call(port, "POST", "/v1/recommend", {"query": "laptop"})[0] == 401  # the guard runs, on this Redis
    finally:
        stop(proc)
