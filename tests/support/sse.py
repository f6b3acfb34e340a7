"""Serving an app over real HTTP for streaming tests, and reading its server-sent events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from flask import Flask
from werkzeug.serving import make_server

SSE = {"Accept": "text/event-stream"}


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """``app`` on a loopback port (threaded werkzeug, which streams); yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@dataclass
class Received:
    """The events of one stream, in order, with the time.monotonic() each arrived."""

    events: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _data, _at in self.events]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [data for n, data, _at in self.events if n == name]

    def first_at(self, name: str) -> float:
        return next(at for n, _data, at in self.events if n == name)

    @property
    def done(self) -> dict[str, Any]:
        (done,) = self.of("done")
        return done


def events(lines: Iterator[str], clock: Any) -> Iterator[tuple[str, dict[str, Any], float]]:
    """Parse SSE lines into (event, data, arrival time); comment lines are skipped."""
    name, data = "message", []
    for line in lines:
        if line.startswith(":"):
            continue
        if not line:
            if data:
                yield name, json.loads("\n".join(data)), clock()
            name, data = "message", []
            continue
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "event":
            name = value
        elif key == "data":
            data.append(value)


def stream(base: str, path: str, body: dict[str, Any], *, stop_after: str | None = None, timeout: float = 30.0) -> Received:
    """POST ``body`` asking for a stream; every event, or (``stop_after``) those up to the first of that name,
    after which the connection is closed (a client that goes away)."""
    import time

    got = Received()
    with httpx.Client(timeout=timeout) as client:
        with client.stream("POST", base + path, json=body, headers=SSE) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"].startswith("text/event-stream")
            for name, data, at in events(response.iter_lines(), time.monotonic):
                got.events.append((name, data, at))
                if name == stop_after:
                    break
    return got
