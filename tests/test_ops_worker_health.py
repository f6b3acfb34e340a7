"""service/ops/worker_health.py: the worker's probe and scrape port, over real HTTP and the real Redis."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import redis
import yaml

from service.jobs.rq_backend import queue_name
from service.ops.metrics import JobQueueCollector, Metrics
from service.ops.worker_health import WorkerHealth
from tests.support.prometheus import sample
from tests.support.redis_db import DOWN_REDIS_URL, REDIS_URL
from tests.test_deploy_files import DEPLOY


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_healthz_follows_the_loop_and_redis_and_metrics_show_the_queue(redis_prefix: str) -> None:
    connection = redis.Redis.from_url(REDIS_URL)
    metrics = Metrics()
    metrics.watch(JobQueueCollector(connection, queue_name(redis_prefix)))
    health = WorkerHealth(connection, metrics, host="127.0.0.1", port=0, name=lambda: "w-1").start()
    try:
        status, body = get(health.port, "/healthz")
        assert status == 503 and json.loads(body) == {"status": "unavailable", "worker": "w-1", "running": False, "redis": True}
        health.running.set()
        status, body = get(health.port, "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"

        from rq import Queue

        Queue(queue_name(redis_prefix), connection=connection).enqueue("builtins.print", "queued, never run")
        status, text = get(health.port, "/metrics")
        assert status == 200
        assert sample(text, "shopguide_job_queue_depth") == 1
        assert 0 <= sample(text, "shopguide_job_queue_oldest_age_seconds") < 60
        assert sample(text, "shopguide_job_workers") == 0
        assert get(health.port, "/v1/recommend")[0] == 404
    finally:
        health.stop()
        connection.close()


def test_healthz_is_503_while_redis_is_down() -> None:
    connection = redis.Redis.from_url(DOWN_REDIS_URL, socket_connect_timeout=0.5)
    metrics = Metrics()
    metrics.watch(JobQueueCollector(connection, "nothing"))
    health = WorkerHealth(connection, metrics, host="127.0.0.1", port=0, name=lambda: "w-2").start()
    health.running.set()
    try:
        status, body = get(health.port, "/healthz")
        assert status == 503 and json.loads(body)["redis"] is False
        status, text = get(health.port, "/metrics")
        assert status == 200 and sample(text, "shopguide_job_queue_up") == 0  # a scrape never fails for Redis
    finally:
        health.stop()


def test_k8s_worker_probes_use_the_health_port() -> None:
    doc = yaml.safe_load((DEPLOY / "k8s" / "worker-deployment.yaml").read_text())
    container = doc["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["health"]
    assert int(env["SHOPGUIDE_WORKER_PORT"]) == port
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_a_taken_port_is_a_configuration_error() -> None:
    import socket

    import pytest

    from service.errors import ConfigError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"SHOPGUIDE_WORKER_PORT: cannot listen on 127.0.0.1:{port}"):
            WorkerHealth(redis.Redis.from_url(REDIS_URL), Metrics(), host="127.0.0.1", port=port, name=lambda: "w")
