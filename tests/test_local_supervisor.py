"""The model server's supervisor with a stand-in server (a few lines of stdlib HTTP): start, ready, restart, stop.

The real model server under the supervisor is tested in tests/test_local_server.py (slow).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from service.local_server.supervisor import Supervisor, start_model_server, wants_model_server
from service.settings import load_settings
from tests.support.waiting import wait_for

STAND_IN = """
import sys, json
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ready"}).encode()
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def supervised(tmp_path: Path):
    port = free_port()
    state = tmp_path / "state.json"
    supervisor = Supervisor([sys.executable, "-c", STAND_IN, str(port)], f"http://127.0.0.1:{port}",
                            state_file=state, poll_s=0.05)
    supervisor.start()
    yield supervisor, state
    supervisor.stop()


def test_the_child_is_started_and_reported_ready(supervised) -> None:
    supervisor, state = supervised
    assert supervisor.wait_ready(20)
    assert httpx.get(f"{supervisor.url}/healthz").status_code == 200
    wait_for(lambda: json.loads(state.read_text())["state"] == "ready", 5)
    assert json.loads(state.read_text())["pid"] == supervisor.pid


def test_a_killed_child_is_restarted_and_the_restart_recorded(supervised) -> None:
    supervisor, state = supervised
    assert supervisor.wait_ready(20)
    first = supervisor.pid
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: supervisor.restarts == 1 and supervisor.state == "ready" and supervisor.pid != first, 20)
    recorded = json.loads(state.read_text())
    assert recorded["restarts"] == 1 and recorded["last_exit"] == -signal.SIGKILL and recorded["state"] == "ready"
    assert httpx.get(f"{supervisor.url}/healthz").status_code == 200


def test_stop_ends_the_child_and_removes_the_state(supervised) -> None:
    supervisor, state = supervised
    assert supervisor.wait_ready(20)
    pid = supervisor.pid
    supervisor.stop()
    assert supervisor.state == "stopped" and not state.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert supervisor.restarts == 0


def test_a_forked_worker_stopping_leaves_the_masters_child_alone(supervised) -> None:
    """gunicorn's workers are forks of the supervising process and leave through serve()'s finally: stop()."""
    supervisor, state = supervised
    assert supervisor.wait_ready(20)
    pid = supervisor.pid
    worker = os.fork()
    if worker == 0:  # the "worker": stop, then exit as gunicorn's workers do
        try:
            supervisor.stop(timeout_s=2)
        finally:
            os._exit(0)
    _, status = os.waitpid(worker, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    os.kill(pid, 0)  # still running
    assert supervisor.pid == pid and supervisor.restarts == 0 and supervisor.state == "ready"
    assert json.loads(state.read_text())["pid"] == pid
    assert httpx.get(f"{supervisor.url}/healthz").status_code == 200


def test_serve_supervises_only_when_local_is_in_the_chain_without_a_url() -> None:
    assert wants_model_server(load_settings(providers="local"))
    assert not wants_model_server(load_settings(providers="local", local_url="http://127.0.0.1:8002"))
    assert not wants_model_server(load_settings(providers="local", local_supervise=False))
    assert not wants_model_server(load_settings(providers="openai", openai_base_url="http://127.0.0.1:9/v1"))


def test_a_taken_model_server_port_is_refused_naming_the_settings() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = load_settings(providers="local", local_port=taken.getsockname()[1])
        with pytest.raises(OSError, match="SHOPGUIDE_LOCAL_PORT"):
            start_model_server(settings)


IMPORTS_IN_THE_WATCHER = r"""
import sys, threading, time
from service.local_server.supervisor import Supervisor

seen = []
def hook(event, args):
    if event == "import" and threading.current_thread().name == "local-server-supervisor":
        seen.append(args[0])

sys.addaudithook(hook)
supervisor = Supervisor([sys.executable, "-c", "import time; time.sleep(5)"], "http://127.0.0.1:9", poll_s=0.05)
supervisor.start()
time.sleep(1.5)  # the watcher starts the child and polls its /healthz (refused) many times
supervisor.stop()
print(sorted(set(seen)))
"""


def test_the_watching_thread_imports_nothing_gunicorn_could_fork_in_the_middle_of():
    """gunicorn forks its workers while this thread runs (``local`` behind a hosted provider is not waited for).
    A module half-imported by another thread at fork time stays locked in the child for good: one worker of
    four hung at its first ``import h11`` and every connection the kernel gave it waited forever (bench.service,
    default chain). Whatever the thread needs is imported before it starts."""
    result = subprocess.run([sys.executable, "-c", IMPORTS_IN_THE_WATCHER], capture_output=True, text=True,
                            timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
