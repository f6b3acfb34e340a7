"""``local`` as the web workers see it: the model server (``shopguide local serve``) over HTTP.

An :class:`OpenAIProvider` pointed at the server, sent each request's compact form and its
tightened grammar schema (the provider setting ``SHOPGUIDE_LOCAL_PROMPT_STYLE``), never
retried (one server: when it is down the chain moves on at once), and telling the server
how long it will wait so the server drops the request after. ``describe()`` (``/readyz``)
adds the server's own ``/healthz`` and, when ``shopguide serve`` supervises it, the
supervisor's state (restarts, last exit).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from service.local_server.protocol import TIMEOUT_HEADER
from service.provider.base import PromptStyle
from service.provider.openai_compat import OpenAIProvider
from service.provider.retry import RetryPolicy

HEALTH_TIMEOUT_S = 0.5
HEALTH_TTL_S = 2.0
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def supervisor_state_file(url: str) -> Path | None:
    """Where a supervisor on this machine keeps the state of the server at ``url`` (None: not on loopback)."""
    parts = urlsplit(url)
    if parts.hostname not in _LOOPBACK or parts.port is None:
        return None
    return Path(tempfile.gettempdir()) / f"shopguide-local-server-{parts.port}.json"


class ModelServerProvider(OpenAIProvider):
    """The local model server, reached through the OpenAI-compatible provider."""

    sends_unique_items = True  # its decoder keeps picks distinct

    def __init__(
        self,
        *,
        url: str,
        model: str,
        timeout_s: float,
        prompt_style: PromptStyle = "compact",
        state_file: Path | None = None,
        name: str = "local",
        **kwargs: Any,
    ) -> None:
        self.url = url.rstrip("/")
        super().__init__(
            name=name,
            model=model,
            base_url=f"{self.url}/v1",
            timeout_s=timeout_s,
            retry=RetryPolicy(retries=0),
            response_format="json_schema",
            prompt_style=prompt_style,
            timeout_header=TIMEOUT_HEADER,
            **kwargs,
        )
        self._state_file = state_file
        self._health_lock = threading.Lock()  # guards _health and _health_client
        self._refreshing = threading.Lock()  # held by the one thread asking the server
        self._health: tuple[float, dict[str, Any]] | None = None
        self._health_client: httpx.Client | None = None

    def server_health(self) -> dict[str, Any]:
        """The server's ``/healthz``, cached for a moment (/readyz is probed often). One thread at a time asks the
        server, over one kept client; the others meanwhile take the last answer."""
        with self._health_lock:
            cached = self._health
        if cached is not None and time.monotonic() - cached[0] < HEALTH_TTL_S:
            return cached[1]
        if not self._refreshing.acquire(blocking=cached is None):
            return cached[1]  # another thread is asking: the last answer will do
        try:
            health = self._ask_health()
            with self._health_lock:
                self._health = (time.monotonic(), health)
            return health
        finally:
            self._refreshing.release()

    def _ask_health(self) -> dict[str, Any]:
        with self._health_lock:
            if self._health_client is None:
                self._health_client = httpx.Client(timeout=HEALTH_TIMEOUT_S)
            client = self._health_client
        try:
            response = client.get(f"{self.url}/healthz")
            health = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            return {"status": health.get("status", f"http {response.status_code}"), **health}
        except (httpx.HTTPError, ValueError) as exc:
            return {"status": "unreachable", "error": type(exc).__name__}

    def close(self) -> None:
        super().close()
        with self._health_lock:
            client, self._health_client = self._health_client, None
        if client is not None:
            client.close()

    def supervisor_state(self) -> dict[str, Any] | None:
        if self._state_file is None:
            return None
        try:
            return json.loads(self._state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None  # started by hand, not by `shopguide serve`
        except (OSError, ValueError):
            return {"state": "unknown"}

    def describe(self) -> dict[str, Any]:
        info = super().describe() | {"type": "model-server", "url": self.url}
        health = self.server_health()
        info["ready"] = health.get("status") == "ready"
        info["server"] = {k: health.get(k) for k in ("status", "model", "device", "dtype", "quantize", "queue_depth",
                                                      "running", "batches", "error") if k in health}
        supervisor = self.supervisor_state()
        if supervisor is not None:
            info["supervisor"] = supervisor
        return info
