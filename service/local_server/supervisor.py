"""Run the model server as a child process of ``shopguide serve``: started, watched, restarted, stopped.

One thread owns the child (Linux sends a child its parent-death signal when the thread
that started it ends, so every start happens on that thread). It starts the child, waits
for its ``/healthz`` to say ready, then waits for it to exit; an exit it did not ask for
is followed by a restart after a back-off (1 s doubling to 30 s, reset once a child has
stayed up for a minute). Its state is written, atomically, to a small JSON file that the
web workers' ``local`` provider shows in ``/readyz``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx

if TYPE_CHECKING:
    from service.settings import Settings

log = logging.getLogger(__name__)

State = Literal["starting", "ready", "restarting", "stopped", "failed"]
_PR_SET_PDEATHSIG = 1
STABLE_S = 60.0
MAX_BACKOFF_S = 30.0


def _die_with_parent() -> None:  # in the child, between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def server_command(host: str, port: int) -> list[str]:
    """The child's command line: this Python, ``shopguide local serve``."""
    return [sys.executable, "-m", "service", "local", "serve", "--host", host, "--port", str(port)]


class Supervisor:
    """Keeps one model server process alive at ``url``."""

    def __init__(
        self,
        command: Sequence[str],
        url: str,
        *,
        state_file: Path | None = None,
        env: dict[str, str] | None = None,
        poll_s: float = 0.25,
    ) -> None:
        self._command = list(command)
        self.url = url.rstrip("/")
        self._state_file = state_file
        self._env = env
        self._poll_s = poll_s
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._owner = os.getpid()  # gunicorn's workers are forks of this process: only this one owns the child
        self.state: State = "starting"
        self.restarts = 0
        self.last_exit: int | None = None
        self.since = time.time()

    # -- control ---------------------------------------------------------------------------
    def start(self) -> None:
        # gunicorn forks its workers while the watcher runs, and a module another thread is importing at fork
        # time stays locked in the child for good (a worker hung at its first `import h11`). So the watcher's
        # HTTP client is built and used once here, in the caller's thread: its lazy imports are done before.
        self._client = httpx.Client(timeout=2.0)
        self._probe()
        self._thread = threading.Thread(target=self._watch, name="local-server-supervisor", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout_s: float) -> bool:
        """Block until the server reports ready (True) or ``timeout_s`` passes (False)."""
        return self._ready.wait(timeout_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the child (SIGTERM, then SIGKILL) and stop watching; in any other process, nothing.

        A gunicorn worker leaves by unwinding through ``serve()``'s stack, forked from the master's: its
        ``stop()`` used to terminate the model server (which the master's watcher then restarted) and remove
        the state file, on every worker exit, and held shutdown for 15 s waiting on a process not its child.
        """
        if os.getpid() != self._owner:
            return
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        if self._client is not None:
            self._client.close()
        self._set("stopped")
        if self._state_file is not None:
            with contextlib.suppress(OSError):
                self._state_file.unlink()

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None else None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "state": self.state,
                "pid": self.pid,
                "restarts": self.restarts,
                "last_exit": self.last_exit,
                "since": round(self.since, 3),
                "url": self.url,
            }

    # -- the watching thread ----------------------------------------------------------------
    def _watch(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                # Its own session: a terminal's Ctrl+C reaches shopguide serve, which then stops the child itself.
                self._process = subprocess.Popen(  # noqa: S603
                    self._command, env=self._env, preexec_fn=_die_with_parent, start_new_session=True
                )
            except OSError as exc:
                log.error("cannot start the model server: %s", exc)
                self._set("failed")
                return
            log.info("model server started (pid %d) at %s", self._process.pid, self.url)
            self._await_ready(self._process)
            code = self._process.wait()
            if self._stopping.is_set():
                return
            self._ready.clear()
            with self._lock:
                self.last_exit = code
                self.restarts += 1
            if time.monotonic() - started > STABLE_S:
                backoff = 1.0
            log.error("model server exited with %s; restarting in %.0fs", code, backoff)
            self._set("restarting")
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _probe(self) -> tuple[int, dict[str, Any]] | None:
        """The server's /healthz status and body, or None while it does not answer."""
        assert self._client is not None  # built by start()
        try:
            response = self._client.get(f"{self.url}/healthz")
        except httpx.HTTPError:
            return None
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body if isinstance(body, dict) else {}

    def _await_ready(self, process: subprocess.Popen[bytes]) -> None:
        self._set("starting")
        while process.poll() is None and not self._stopping.is_set():
            answer = self._probe()
            if answer is not None:
                status, body = answer
                if status == 200:
                    self._set("ready")
                    self._ready.set()
                    return
                if body.get("status") == "failed":
                    log.error("model server failed to load: %s", body.get("error"))
                    self._set("failed")
            time.sleep(self._poll_s)

    def _set(self, state: State) -> None:
        with self._lock:
            if state != self.state:
                self.state, self.since = state, time.time()
        self._write()

    def _write(self) -> None:
        if self._state_file is None:
            return
        staging = self._state_file.with_suffix(f".{os.getpid()}.tmp")
        try:
            staging.write_text(json.dumps(self.describe()), encoding="utf-8")
            os.replace(staging, self._state_file)
        except OSError as exc:
            log.warning("cannot write the model server state to %s: %s", self._state_file, exc)


def wants_model_server(settings: Settings) -> bool:
    """``local`` is in the chain, no server is configured elsewhere, and supervising is on."""
    return "local" in settings.provider_chain and settings.local_url is None and settings.local_supervise


def start_model_server(settings: Settings, *, announce: Callable[[str], None] = print) -> tuple[Settings, Supervisor]:
    """Start the model server as a supervised child; the settings returned point ``local`` at it.

    When ``local`` leads the chain this waits (up to ``SHOPGUIDE_LOCAL_START_TIMEOUT_S``) for the
    server to be loaded and warmed, so the first request is answered by the model, not degraded.

    :raises OSError: the model server's port is taken.
    """
    from service.ops.gunicorn import ensure_port_free
    from service.provider.model_server import supervisor_state_file

    host, port = settings.local_host, settings.local_port
    try:
        ensure_port_free(f"{host}:{port}")
    except OSError as exc:
        raise OSError(exc.errno, f"{exc.strerror}; set SHOPGUIDE_LOCAL_PORT, or SHOPGUIDE_LOCAL_URL to use that server")
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    supervisor = Supervisor(server_command(host, port), url, state_file=supervisor_state_file(url))
    supervisor.start()
    if settings.provider_chain[:1] == ("local",):
        announce(f"starting the local model server at {url} (loading and warming the model)...")
        started = time.monotonic()
        if supervisor.wait_ready(settings.local_start_timeout_s):
            announce(f"local model server ready in {time.monotonic() - started:.1f}s")
        else:
            announce(f"local model server not ready after {settings.local_start_timeout_s:.0f}s; serving without it "
                     "meanwhile (state in /readyz)")
    return settings.model_copy(update={"local_url": url}), supervisor
