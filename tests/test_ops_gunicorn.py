"""The server for real: gunicorn subprocesses, multi-process metrics, graceful shutdown on SIGTERM."""

from __future__ import annotations

import glob
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from service.cli import main
from service.ops.gunicorn import freeze_startup_objects, gunicorn_options
from tests.support.openai_upstream import OpenAIUpstream, held, reply_fn
from tests.support.picks import pick_first_k
from tests.support.prometheus import sample
from tests.support.redis_db import REDIS_URL
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port: int, method: str, path: str, body: dict | None = None, timeout: float = 30) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        response = conn.getresponse()
        raw = response.read()
        ctype = response.getheader("Content-Type", "")
        return response.status, json.loads(raw) if "json" in ctype else raw.decode()
    finally:
        conn.close()


def up(port: int) -> bool:
    try:
        return call(port, "GET", "/healthz", timeout=2)[0] == 200
    except OSError:
        return False


def server_env(upstream: OpenAIUpstream, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUIDE_", "OPENAI_", "REDIS_URL", "PROMETHEUS_"))}
    env.update(
        PYTHONPATH=str(REPO),
        SHOPGUIDE_HOST="127.0.0.1",
        SHOPGUIDE_PORT=str(port),
        SHOPGUIDE_WORKERS="2",
        SHOPGUIDE_THREADS="4",
        SHOPGUIDE_PROVIDERS="openai",
        SHOPGUIDE_RETRIES="0",
        SHOPGUIDE_GRACEFUL_TIMEOUT_S="15",
        SHOPGUIDE_CACHE_PREFIX=f"t{uuid.uuid4().hex[:12]}",
        OPENAI_BASE_URL=upstream.base_url,
        OPENAI_API_KEY="sk-test-" + uuid.uuid4().hex,
    )
    env.update(extra)
    return env


def in_flight_survives_sigterm(proc: subprocess.Popen, port: int, upstream: OpenAIUpstream) -> None:
    """Hold a request at the upstream, SIGTERM the master: once the server has stopped taking connections,
    the upstream answers; the held request still completes with the model's picks and the server exits 0."""
    result: dict[str, Any] = {}

    def slow() -> None:
        result["reply"] = call(port, "POST", "/v1/recommend", {"query": f"down jacket {uuid.uuid4().hex}"})

    gate = held(reply_fn(pick_first_k))
    upstream.script(gate)
    before = upstream.calls
    thread = threading.Thread(target=slow)
    thread.start()
    wait_for(lambda: upstream.calls > before)  # the request is in flight, waiting on the upstream
    proc.send_signal(signal.SIGTERM)
    wait_for(lambda: not up(port))  # draining: no new connections
    gate.open()
    thread.join(timeout=30)
    status, body = result["reply"]
    assert status == 200, body
    assert body["provider"] == "openai" and body["degraded"] is False
    assert body["items"] and all(i["source"] == "llm" for i in body["items"])
    assert proc.wait(timeout=30) == 0
    assert not up(port)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def test_gunicorn_conf_multiprocess_metrics_and_graceful_shutdown(tmp_path: Path, upstream: OpenAIUpstream) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")  # a previous run's file is wiped at start
    port = free_port()
    env = server_env(upstream, port, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "tests.support.small_shop:create_test_app()"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: up(port) or proc.poll() is not None, timeout_s=60)
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert not (metrics_dir / "counter_999999.db").exists()
        for _ in range(12):  # separate connections, served by whichever worker accepts
            assert call(port, "GET", "/healthz")[0] == 200
        status, text = call(port, "GET", "/metrics")
        assert status == 200
        # Both workers' counts are merged, whichever of them answered the scrape.
        assert sample(text, "shopguide_requests_total", endpoint="/healthz", status="200") >= 12
        pids = {Path(f).stem.split("_")[-1] for f in glob.glob(str(metrics_dir / "counter_*.db"))}
        assert len(pids) == 2  # one file per worker
        assert glob.glob(str(metrics_dir / "gauge_livesum_*.db"))
        in_flight_survives_sigterm(proc, port, upstream)
    finally:
        stop(proc)
    # child_exit dropped the dead workers' live gauges; their counters stay for the totals.
    assert glob.glob(str(metrics_dir / "gauge_livesum_*.db")) == []
    assert len(glob.glob(str(metrics_dir / "counter_*.db"))) == 2


def test_shopguide_serve_graceful_shutdown_and_temporary_metrics_dir(tmp_path: Path, upstream: OpenAIUpstream) -> None:
    port = free_port()
    code = (
        "from service.cli.serve import serve; from service.settings import load_settings; "
        "from tests.support.small_shop import create_test_app_from; serve(load_settings(), create_test_app_from)"
    )
    env = server_env(upstream, port, TMPDIR=str(tmp_path), SHOPGUIDE_WORKERS="1")  # the conf test runs two
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: up(port) or proc.poll() is not None, timeout_s=60)
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        (made,) = glob.glob(str(tmp_path / "shopguide-metrics-*"))
        assert glob.glob(os.path.join(made, "counter_*.db"))
        status, text = call(port, "GET", "/metrics")
        assert status == 200 and "shopguide_requests_total" in text
        in_flight_survives_sigterm(proc, port, upstream)
    finally:
        stop(proc)
    assert glob.glob(str(tmp_path / "shopguide-metrics-*")) == []  # removed by the master on exit


@pytest.fixture
def no_serving(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """``shopguide serve`` in process, with gunicorn replaced by a recorder: what it would have served."""
    import service.cli.serve as serve_command

    served: list[Any] = []
    monkeypatch.setattr(serve_command, "serve", lambda settings, app_factory=None: served.append(settings))
    for name in [n for n in os.environ if n.startswith("SHOPGUIDE_")]:
        monkeypatch.delenv(name)
    return served


def test_serve_refuses_bad_configuration_before_forking(
    no_serving: list[Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHOPGUIDE_WORKERS", "zero")
    assert main(["serve"]) == 2
    assert "SHOPGUIDE_WORKERS" in capsys.readouterr().err and no_serving == []
    monkeypatch.delenv("SHOPGUIDE_WORKERS")
    assert main(["serve", "--port", str(free_port()), "--workers", "3"]) == 0  # the same path, served
    assert no_serving[0].workers == 3


@pytest.mark.parametrize(
    ("providers", "workers"), [("openai", min(2 * (os.cpu_count() or 1), 16)), ("local", 1), ("openai,local", 2)]
)
def test_gunicorn_options(providers: str, workers: int) -> None:
    from service.settings import load_settings

    settings = load_settings(
        providers=providers, graceful_timeout_s=42, deadline_s=20, redis_url=REDIS_URL
    )
    options = gunicorn_options(settings)
    from gunicorn.workers.gthread import ThreadWorker

    assert options["workers"] == workers and issubclass(options["worker_class"], ThreadWorker)
    assert options["worker_class"].read_timeout_s == settings.request_read_timeout_s
    assert options["graceful_timeout"] == 42 and options["timeout"] > 20
    assert options["reuse_port"] is (workers > 1)  # the kernel spreads connections over the workers
    assert options["post_worker_init"] is freeze_startup_objects


def test_startup_objects_are_frozen_out_of_the_collectors_sight() -> None:
    import gc

    survivor = [object() for _ in range(1000)]
    try:
        freeze_startup_objects(worker=None)
        assert gc.get_freeze_count() >= len(survivor)
    finally:
        gc.unfreeze()


def test_serve_refuses_a_port_another_server_listens_on(no_serving: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    from service.ops.gunicorn import ensure_port_free

    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as a reuse_port worker listens
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            ensure_port_free(f"127.0.0.1:{port}")
        assert main(["serve", "--port", str(port)]) == 1
        assert "is another server running?" in capsys.readouterr().err and no_serving == []
    ensure_port_free(f"127.0.0.1:{port}")  # free again
    ensure_port_free("unix:/tmp/shopguide.sock")


def test_default_workers_follow_the_primary_provider_and_redis() -> None:
    from service.ops.gunicorn import default_workers
    from service.settings import load_settings

    assert default_workers(load_settings(providers="local")) == 1
    assert default_workers(load_settings(providers="openai,local")) == 1  # no Redis: one process holds the state
    assert default_workers(load_settings(providers="openai,local", redis_url=REDIS_URL)) == 2
    assert default_workers(load_settings(providers="local", redis_url=REDIS_URL)) == 1
    assert default_workers(load_settings(workers=3)) == 3
    hosted_only = load_settings(providers="openai", redis_url=REDIS_URL)
    assert default_workers(hosted_only) == min(2 * (os.cpu_count() or 1), 16)


def test_the_server_logs_no_path_nor_raw_user_id_only_its_own_access_line(tmp_path: Path, upstream: OpenAIUpstream) -> None:
    """gunicorn, given a logging config, writes its own combined-format access line (the request line: path and
    query string) at INFO; the server runs without it, so a shopper id in a path never reaches the logs."""
    port = free_port()
    code = (
        "from service.cli.serve import serve; from service.settings import load_settings; "
        "from tests.support.small_shop import create_test_app_from; serve(load_settings(), create_test_app_from)"
    )
    shopper = f"shopper-{uuid.uuid4().hex}@example.com"
    log_path = tmp_path / "server.log"
    env = server_env(upstream, port, TMPDIR=str(tmp_path), SHOPGUIDE_WORKERS="1", SHOPGUIDE_LOG_LEVEL="INFO",
                     SHOPGUIDE_LOG_FORMAT="json")
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=log_file, stderr=log_file)
        try:
            wait_for(lambda: up(port) or proc.poll() is not None, timeout_s=60)
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert call(port, "GET", f"/v1/users/{shopper}/history?note={shopper}")[0] == 200
            assert call(port, "DELETE", f"/v1/users/{shopper}")[0] in (200, 202, 204)
            wait_for(lambda: log_path.read_text().count('"endpoint": "/v1/users/<user_id>') >= 2, timeout_s=10)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    text = log_path.read_text()
    assert shopper not in text
    assert "gunicorn.access" not in text and "HTTP/1.1" not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("endpoint", "").startswith("/v1/users/")]
    assert {line["endpoint"] for line in access} == {"/v1/users/<user_id>/history", "/v1/users/<user_id>"}
